//! Small builders shared by the migrations, so each table definition reads as its columns.
//!
//! Naming: tables are plural snake_case; foreign keys are `fk_{table}_{column}`; indexes are
//! `idx_{table}_{columns}` and unique indexes `uq_{table}_{columns}`. The names are part of
//! the schema (PostgreSQL reports them in constraint errors), so they never change.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone;

/// `created_at TIMESTAMPTZ NOT NULL`: set by the repositories (UTC, microseconds).
pub(crate) fn created_at() -> ColumnDef {
    timestamp_with_time_zone(Alias::new("created_at"))
}

/// `updated_at TIMESTAMPTZ NOT NULL`.
pub(crate) fn updated_at() -> ColumnDef {
    timestamp_with_time_zone(Alias::new("updated_at"))
}

/// A foreign key from `table.column` to `target.id` with the given `ON DELETE` action.
pub(crate) fn fk(
    table: impl IntoIden,
    column: impl IntoIden,
    target: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    let (table, column) = (table.into_iden(), column.into_iden());
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(target, Alias::new("id"))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

/// `CREATE INDEX idx_{table}_{cols}` (or `CREATE UNIQUE INDEX uq_…` when `unique`).
pub(crate) fn index<C: IntoIden>(
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
    unique: bool,
) -> IndexCreateStatement {
    let table = table.into_iden();
    let columns: Vec<DynIden> = columns.into_iter().map(IntoIden::into_iden).collect();
    let names: Vec<String> = columns.iter().map(ToString::to_string).collect();
    let prefix = if unique { "uq" } else { "idx" };
    let mut stmt = Index::create();
    stmt.name(format!("{prefix}_{table}_{}", names.join("_")))
        .table(table);
    for column in columns {
        stmt.col(column);
    }
    if unique {
        stmt.unique();
    }
    stmt
}

/// Drops the tables in the given order (children before parents).
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: Vec<DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}

/// Adds columns, one `ALTER TABLE` each (SQLite adds and drops one column per statement).
pub(crate) async fn add_columns(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Clone,
    columns: Vec<ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// Drops columns, one `ALTER TABLE` each.
pub(crate) async fn drop_columns<C: IntoIden>(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Clone,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    for column in columns {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

// Progressive enhancement: a "Copy" button where the clipboard is available.
for (const button of document.querySelectorAll("[data-copy]")) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const text = document.getElementById(button.dataset.copy).textContent;
    await navigator.clipboard.writeText(text.trim());
    button.textContent = "Copied";
  });
}

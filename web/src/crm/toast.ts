let timer: ReturnType<typeof setTimeout> | undefined;

/** A short message in the page's polite live region (`#toast`). */
export function toast(message: string): void {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => (el.hidden = true), 4000);
}

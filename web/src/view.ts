// Building DOM elements in a line: el('button', {class: 'run', onclick}, 'Run'). The console has no
// framework; each module owns its elements and updates them when its state changes.
type Attributes = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;
type Child = Node | string | undefined | null | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function clear(element: Element): void {
  element.replaceChildren();
}

/** A short message at the top of the page (errors, what happened), gone after a while or on click. */
export function notify(message: string, kind: 'info' | 'error' = 'info', ms = 8_000): void {
  let area = document.getElementById('notifications');
  if (!area) {
    area = el('div', { id: 'notifications', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(area);
  }
  const note = el('div', { class: `note ${kind}` }, message);
  note.addEventListener('click', () => note.remove());
  area.appendChild(note);
  setTimeout(() => note.remove(), ms);
}

/** A modal dialog with a form; resolves with the form's values, or undefined when cancelled. */
export function dialog(title: string, body: HTMLElement[], submitLabel: string): Promise<FormData | undefined> {
  return new Promise((resolve) => {
    const form = el('form', { method: 'dialog', class: 'dialog-form' }, el('h2', {}, title), ...body,
      el('div', { class: 'dialog-buttons' },
        el('button', { type: 'button', class: 'secondary', onclick: () => { box.close(); resolve(undefined); } }, 'Cancel'),
        el('button', { type: 'submit', class: 'primary' }, submitLabel)));
    const box = el('dialog', { class: 'modal' }, form);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(form);
      box.close();
      resolve(data);
    });
    box.addEventListener('close', () => {
      box.remove();
      resolve(undefined);
    });
    document.body.appendChild(box);
    box.showModal();
  });
}

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  return el('label', { class: 'field' }, el('span', { class: 'label' }, label), input, hint ? el('span', { class: 'hint' }, hint) : undefined);
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

/**
 * The page's elements (page.ts writes them), found once and grouped by the part of the page they
 * belong to, and the small builders the views use. All text reaches the page through textContent,
 * never as HTML.
 */

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
}

const body = (table: string) => byId<HTMLTableElement>(table).tBodies[0]!;

export const ui = {
  header: { served: byId<HTMLParagraphElement>('served'), logout: byId<HTMLButtonElement>('logout') },
  messages: { error: byId<HTMLDivElement>('error'), notice: byId<HTMLDivElement>('notice') },
  login: { view: byId<HTMLElement>('login-view'), form: byId<HTMLFormElement>('login-form'), password: byId<HTMLInputElement>('password') },
  app: byId<HTMLElement>('app-view'),
  create: {
    form: byId<HTMLFormElement>('create-form'),
    name: byId<HTMLInputElement>('branch-name'),
    from: byId<HTMLSelectElement>('branch-from'),
    ttl: byId<HTMLInputElement>('branch-ttl'),
    at: byId<HTMLInputElement>('branch-at'),
    atParts: document.querySelectorAll<HTMLElement>('.at-moment'),
    masked: byId<HTMLInputElement>('branch-masked'),
    button: byId<HTMLButtonElement>('create-button'),
  },
  branches: { rows: body('branches'), empty: byId<HTMLParagraphElement>('branches-empty') },
  diff: {
    view: byId<HTMLElement>('diff-view'),
    title: byId<HTMLElement>('diff-title'),
    text: byId<HTMLPreElement>('diff-text'),
    changes: byId<HTMLButtonElement>('diff-changes'),
    sql: byId<HTMLButtonElement>('diff-sql'),
    close: byId<HTMLButtonElement>('diff-close'),
  },
  data: {
    view: byId<HTMLElement>('data-view'),
    title: byId<HTMLElement>('data-title'),
    summary: byId<HTMLParagraphElement>('data-summary'),
    rows: body('data-tables'),
    tablesWrap: byId<HTMLDivElement>('data-tables-wrap'),
    notes: byId<HTMLParagraphElement>('data-notes'),
    again: byId<HTMLButtonElement>('data-again'),
    close: byId<HTMLButtonElement>('data-close'),
  },
  snapshot: {
    form: byId<HTMLFormElement>('snapshot-form'),
    name: byId<HTMLInputElement>('snapshot-name'),
    of: byId<HTMLSelectElement>('snapshot-of'),
    at: byId<HTMLInputElement>('snapshot-at'),
    atParts: document.querySelectorAll<HTMLElement>('.snapshot-at-moment'),
    masked: byId<HTMLInputElement>('snapshot-masked'),
    button: byId<HTMLButtonElement>('snapshot-button'),
  },
  tables: {
    database: byId<HTMLElement>('database-name'),
    rows: body('tables'),
    empty: byId<HTMLParagraphElement>('tables-empty'),
    refresh: byId<HTMLButtonElement>('refresh-tables'),
  },
  confirm: {
    dialog: byId<HTMLDialogElement>('confirm-dialog'),
    title: byId<HTMLElement>('confirm-title'),
    text: byId<HTMLParagraphElement>('confirm-text'),
    ok: byId<HTMLButtonElement>('confirm-ok'),
  },
  reset: {
    dialog: byId<HTMLDialogElement>('reset-dialog'),
    title: byId<HTMLElement>('reset-title'),
    text: byId<HTMLParagraphElement>('reset-text'),
    to: byId<HTMLSelectElement>('reset-to'),
  },
  expiry: {
    dialog: byId<HTMLDialogElement>('expiry-dialog'),
    title: byId<HTMLElement>('expiry-title'),
    text: byId<HTMLParagraphElement>('expiry-text'),
    ttl: byId<HTMLInputElement>('expiry-ttl'),
  },
};

export function cell(row: HTMLTableRowElement, text: string, label: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  td.dataset.label = label;
  if (className) td.className = className;
  return td;
}

export function button(text: string, ariaLabel: string, onClick: () => void, className = 'secondary small'): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = className;
  b.textContent = text;
  b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', onClick);
  return b;
}

export function tag(text: string, title?: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = 'tag';
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

/** An `<optgroup>` of names, or nothing when there are none. */
export function optionGroup(label: string, names: readonly string[], text: (name: string) => string = (n) => n): HTMLElement[] {
  if (names.length === 0) return [];
  const group = document.createElement('optgroup');
  group.label = label;
  group.append(...names.map((n) => new Option(text(n), n)));
  return [group];
}

/** Opens a dialog and resolves with its return value when it closes. */
export async function showDialog(dialog: HTMLDialogElement): Promise<string> {
  dialog.returnValue = '';
  dialog.showModal();
  await new Promise<void>((resolve) => dialog.addEventListener('close', () => resolve(), { once: true }));
  return dialog.returnValue;
}

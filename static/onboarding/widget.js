// <onboarding-progress flow="...">: the onboarding progress bar and checklist.
// The server renders the first state (declarative shadow DOM plus a JSON <script>
// child); this module keeps it live. Every event gets a client UUID and waits in a
// localStorage queue until the API acknowledges it, so retries never count twice.
const KEY = 'onboarding:queue:';
const HIDE = 'widget_dismissed';
const DONE = ['completed', 'defaulted'];
// The texts of an element written by hand, without the tag's JSON child (which carries
// them in the page's language): onboarding_widget.widget_strings() in English.
const EN = {
  of: '%(done)s of %(total)s done',
  steps: '%(done)s of %(total)s steps',
  summary: '%(done)s, %(left)s',
  left: { one: 'about %(seconds)s second left', other: 'about %(seconds)s seconds left' },
  finished: 'All done. Welcome aboard!',
  optional: '(optional)',
  use_default: 'Use defaults and continue',
  skip: 'Skip',
  skip_label: 'Skip: %(title)s',
  hide: 'Dismiss: %(title)s',
  status: { done: 'Done:', todo: 'To do:', skipped: 'Skipped:', dismissed: 'Dismissed:' },
  offline: 'Saved on this device; it will be sent when you are back online.',
  refused: 'Your progress could not be saved. Please reload the page.',
};
const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (s, o) => s.replace(/%\((\w+)\)s/g, (_, k) => o[k]);
// randomUUID needs a secure context; getRandomValues does not.
const uuid = () =>
  crypto.randomUUID?.() ||
  '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16),
  );

// Patch `o` into the shape of `n` in place: focus, live regions and transitions survive.
const sync = (o, n) => {
  if (o.nodeName != n.nodeName) return o.replaceWith(n);
  if (o.nodeType == 3) return o.data == n.data || (o.data = n.data);
  for (const a of [...o.attributes]) n.hasAttribute(a.name) || o.removeAttribute(a.name);
  for (const a of n.attributes) o.getAttribute(a.name) == a.value || o.setAttribute(a.name, a.value);
  const oc = [...o.childNodes];
  [...n.childNodes].forEach((c, i) => (oc[i] ? sync(oc[i], c) : o.append(c)));
  oc.slice(n.childNodes.length).forEach((c) => c.remove());
};

class OnboardingProgress extends HTMLElement {
  connectedCallback() {
    addEventListener('online', (this.online ||= () => this.flush()));
    if (this.root) return;
    const boot = this.querySelector('script[type="application/json"]');
    ({ state: this.s, strings: this.t = EN } = JSON.parse(boot?.textContent || '{}'));
    this.root = this.shadowRoot || this.attachShadow({ mode: 'open' });
    if (!this.root.querySelector('section'))
      this.root.innerHTML = `<link rel="stylesheet" href="${new URL('widget.css', import.meta.url)}"><section></section>`;
    this.root.addEventListener('click', (e) => {
      const b = e.target.closest('[data-act]');
      if (!b) return;
      const act = b.dataset.act;
      act == 'hide' ? this.dismiss() : this.track(b.dataset.step, act == 'default' ? 'defaulted' : 'skipped');
    });
    if (this.s) this.render(true);
    this.flush();
  }

  disconnectedCallback() {
    removeEventListener('online', this.online);
  }

  get flow() {
    return this.getAttribute('flow');
  }

  // The queue is shared by every widget of one subject (the server names it).
  get key() {
    return KEY + (this.getAttribute('subject') || '');
  }

  load() {
    try {
      return JSON.parse(localStorage.getItem(this.key)) || [];
    } catch {
      return this.mem || [];
    }
  }

  save(q) {
    this.mem = q;
    try {
      localStorage.setItem(this.key, JSON.stringify(q));
    } catch {}
  }

  pending() {
    return this.load().filter((e) => e.flow == this.flow);
  }

  // The server's state with the events still waiting in the queue applied.
  get progress() {
    if (!this.s) return null;
    const s = structuredClone(this.s);
    for (const e of this.pending()) {
      const x = s.steps.find((x) => x.key == e.step);
      if (e.kind == HIDE) this.gone = true;
      else if (!x || x.status == 'done') continue;
      else if (DONE.includes(e.kind)) (x.status = 'done'), (x.outcome = e.kind);
      else if (x.status == 'todo' && (e.kind == 'skipped' || e.kind == 'dismissed')) x.status = x.outcome = e.kind;
    }
    s.hidden = this.gone;
    const req = s.steps.filter((x) => !x.optional);
    const todo = req.filter((x) => x.status != 'done');
    s.total = req.length;
    s.done = s.total - todo.length;
    s.seconds_left = todo.reduce((n, x) => n + x.estimated_seconds, 0);
    const r = s.total ? (100 * s.done) / s.total : 100;
    // Python rounds halves to even.
    s.percent = Math.round(r) - (r % 1 == 0.5 && Math.round(r) % 2);
    s.finished ||= s.total > 0 && !todo.length;
    const next = todo.find((x) => x.status == 'todo') || todo[0] || s.steps.find((x) => x.status == 'todo');
    s.steps.forEach((x) => (x.is_next = x == next));
    return s;
  }

  // Record a step's outcome ("completed", "defaulted", "skipped", "dismissed") or a
  // custom event kind; resolves to the event id once the queue is flushed.
  track(step, kind = 'completed', properties) {
    const e = { id: uuid(), flow: this.flow, step: step || '', kind, occurred_at: new Date().toISOString() };
    if (properties) e.properties = properties;
    this.save([...this.load(), e]);
    this.render();
    return this.flush().then(() => e.id);
  }

  dismiss() {
    return this.track('', HIDE);
  }

  // Sends run one after another; each call flushes whatever is queued by then.
  flush() {
    return (this.busy = (this.busy || Promise.resolve()).then(() => this.send()));
  }

  call(path, body) {
    const token = this.getAttribute('token');
    const csrf = this.getAttribute('csrf');
    const headers = { Accept: 'application/json', 'Content-Type': 'application/json' };
    if (this.lang) headers['Accept-Language'] = this.lang;
    if (token) headers.Authorization = 'Embed ' + token;
    else if (csrf) headers['X-CSRFToken'] = csrf;
    const api = new URL(this.getAttribute('api') || '/onboarding/api/', location);
    return fetch(new URL(path, api), {
      method: body ? 'POST' : 'GET',
      headers,
      body: body && JSON.stringify(body),
      // keepalive: a request sent as the tab closes still arrives.
      keepalive: !!body,
      credentials: token ? 'omit' : 'same-origin',
    }).then((r) => (r.ok || r.status == 400 || r.status == 413 ? r : Promise.reject(r)));
  }

  ack(sent) {
    const ids = new Set(sent.map((e) => e.id));
    this.save(this.load().filter((e) => !ids.has(e.id)));
  }

  async send() {
    clearTimeout(this.timer);
    const q = this.pending();
    try {
      const batch = q.filter((e) => e.kind != 'defaulted');
      // 400 and 413 name invalid events: they would fail forever, so they leave the queue too.
      for (let i = 0; i < batch.length; i += 50) {
        const part = batch.slice(i, i + 50);
        await this.call('events/', { events: part });
        this.ack(part);
      }
      // A smart default runs on the server: its own route, idempotent by the same id.
      for (const e of q.filter((e) => e.kind == 'defaulted')) {
        await this.call(`flows/${this.flow}/steps/${e.step}/default/`, { id: e.id });
        this.ack([e]);
      }
      if (q.length || !this.s) this.s = await (await this.call(`flows/${this.flow}/progress/`)).json();
      this.msg = '';
      this.wait = 0;
    } catch (r) {
      const refused = r.status == 401 || r.status == 403;
      this.msg = this.t[refused ? 'refused' : 'offline'];
      this.wait = Math.min(6e4, (this.wait || 1e3) * 2);
      if (!refused) this.timer = setTimeout(() => this.flush(), this.wait);
    }
    this.render();
  }

  render(first) {
    const s = this.progress;
    const t = this.t;
    if (!s) return;
    const full = this.getAttribute('mode') != 'compact';
    this.hidden = !!s.hidden;
    const of = fmt(t.of, s);
    const left = s.seconds_left && (t.left[new Intl.PluralRules(this.lang || undefined).select(s.seconds_left)] || t.left.other);
    const summary = s.finished ? t.finished : left ? fmt(t.summary, { done: of, left: fmt(left, { seconds: s.seconds_left }) }) : of;
    const steps = s.steps.map((x) => {
      const done = x.status == 'done';
      const k = esc(x.key);
      const next = x.is_next ? ' next' : '';
      return `<li part="step" class="${x.status}${next}" data-step="${k}"${next && ' aria-current="step"'}><span class="mark" aria-hidden="true"></span><span class="vh">${esc(t.status[x.status])}</span>${
        x.url && !done ? `<a part="link" href="${esc(x.url)}">${esc(x.title)}</a>` : `<span>${esc(x.title)}</span>`
      }${x.optional ? `<small>${esc(t.optional)}</small>` : ''}${
        !done && x.has_default ? `<button type="button" part="default" data-act="default" data-step="${k}">${esc(x.default_label || t.use_default)}</button>` : ''
      }${
        x.optional && x.status == 'todo'
          ? `<button type="button" class="skip" part="skip" data-act="skip" data-step="${k}" aria-label="${esc(fmt(t.skip_label, x))}">${esc(t.skip)}</button>`
          : ''
      }</li>`;
    });
    const tpl = document.createElement('template');
    tpl.innerHTML = `<section part="panel" class="${full ? 'full' : 'compact'}${s.finished ? ' fin' : ''}" aria-labelledby="t"><div class="head"><h2 id="t" part="title"${full ? '' : ' class="vh"'}>${esc(s.title)}</h2>${
      full ? `<button type="button" class="x" part="dismiss" data-act="hide" aria-label="${esc(fmt(t.hide, s))}">×</button>` : ''
    }</div><div class="bar" part="bar" role="progressbar" aria-labelledby="t" aria-valuemin="0" aria-valuemax="${s.total}" aria-valuenow="${s.done}" aria-valuetext="${esc(fmt(t.steps, s))}"><div class="fill" part="fill" style="width:${s.percent}%"></div></div><p part="summary" aria-live="polite">${esc(summary)}</p><p part="status" role="status">${esc(this.msg || '')}</p>${
      full ? `<ol part="list">${steps.join('')}</ol>` : ''
    }</section>`;
    const focused = this.root.activeElement;
    sync(this.root.querySelector('section'), tpl.content.firstChild);
    // The focused button went away (its step is done): continue with the next step.
    if (focused && !focused.isConnected)
      ['.next a', '.next button', 'button'].map((q) => this.root.querySelector(q)).find(Boolean)?.focus();
    this.announce(s, first);
  }

  // Bubbling, composed DOM events for each newly done step and for the finish.
  announce(s, first) {
    const fire = (name, detail) =>
      first || this.dispatchEvent(new CustomEvent('onboarding:' + name, { bubbles: true, composed: true, detail }));
    const seen = (this.seen ||= new Set());
    for (const x of s.steps)
      if (x.status == 'done' && !seen.has(x.key))
        seen.add(x.key), fire('step-completed', { flow: this.flow, step: x.key, outcome: x.outcome });
    if (s.finished && !this.fin) (this.fin = true), fire('finished', { flow: this.flow });
  }
}

customElements.get('onboarding-progress') || customElements.define('onboarding-progress', OnboardingProgress);

// For single-page apps: record a step's outcome from code, through the flow's widget.
export const track = (flow, step, kind) =>
  document.querySelector(`onboarding-progress[flow="${CSS.escape(flow)}"]`)?.track(step, kind);
export default OnboardingProgress;

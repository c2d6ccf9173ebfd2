// clean-backup's review page: rows of thumbnails, the keeper marked, and
// the actions of the control API. Served by `cbctl review` (live), or
// embedded with its data in `cbctl dedup --report html` (read-only).
(() => {
  'use strict';
  const STATIC = window.CB_STATIC || null;
  const token = new URLSearchParams(location.search).get('token') || '';
  const PAGE = 40; // rows rendered at a time; more as the list scrolls
  let view = null;
  let shown = 0; // rows rendered
  let cur = 0; // the current row
  let sel = 0; // the selected picture in it: 0 the keeper, then the members
  let busy = false;
  let large = null; // {row, index} while the large view is open

  const $ = (id) => document.getElementById(id);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  function bytes(n) {
    // As cbctl prints them (KiB, MiB: powers of 1024).
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let x = n || 0;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i ? x.toFixed(x < 10 ? 1 : 0) : x) + ' ' + u[i];
  }
  function thumbSrc(id, big) {
    if (STATIC) return STATIC.thumbs[id] || '';
    return `/thumb/${id}?size=${big ? 1600 : 320}&token=${encodeURIComponent(token)}`;
  }
  function files(row) { return (row.keeper ? [row.keeper] : []).concat(row.members); }
  function readOnly() { return STATIC !== null || (view && view.read_only); }

  function say(text, bad) {
    const t = $('toast');
    t.textContent = text || '';
    t.className = bad ? 'bad' : '';
  }

  async function load() {
    if (STATIC) {
      view = STATIC.view;
      render(false);
      return;
    }
    try {
      const r = await fetch('/api/view?token=' + encodeURIComponent(token), { cache: 'no-store' });
      if (!r.ok) { say(await r.text(), true); $('summary').textContent = 'Refused.'; return; }
      view = await r.json();
      render(false);
    } catch (e) {
      say('cbctl review is not answering: ' + e, true);
    }
  }

  async function act(body) {
    if (readOnly() || busy) return;
    busy = true;
    document.body.classList.add('busy');
    say('working…');
    try {
      const r = await fetch('/api/action', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-clean-backup-token': token },
        body: JSON.stringify(body),
        cache: 'no-store',
      });
      const j = await r.json().catch(() => ({ error: 'cbctl review gave an answer this page cannot read' }));
      if (!r.ok || j.error) {
        say((j.error || r.statusText) + (j.hint ? ' (' + j.hint + ')' : ''), true);
      } else {
        view = j.view;
        render(true);
        say(j.said || 'done');
      }
    } catch (e) {
      say('cbctl review is not answering: ' + e, true);
    } finally {
      busy = false;
      document.body.classList.remove('busy');
    }
  }

  function factsOf(f, isKeeper) {
    const x = f.file || {};
    const lines = [];
    const dims = x.width && x.height ? `${x.width}×${x.height}` : 'size unknown';
    lines.push(h('div', { class: 'dims', text: `${dims} · ${bytes(x.bytes)} · ${(x.kind || '?').toUpperCase()}` }));
    const date = x.taken_at ? `${x.taken_at.replace('T', ' ')} (${x.taken_source || '?'})` : 'no capture date';
    lines.push(h('div', { class: 'date', text: date }));
    if (x.camera) lines.push(h('div', { class: 'camera', text: x.camera }));
    lines.push(h('div', { class: 'path', text: f.path }));
    if (!isKeeper && f.distance !== undefined && f.distance !== null) {
      const how = f.how === 'exact' ? 'identical' : `distance ${f.distance}`;
      lines.push(h('div', { class: 'distance', text: how }));
    }
    if (f.with && f.with.length) lines.push(h('div', { class: 'with', text: 'with ' + f.with.map((p) => p.split('/').pop()).join(', ') }));
    if (f.why_not_kept) lines.push(h('div', { class: 'why', text: f.why_not_kept }));
    return h('div', { class: 'facts' }, ...lines);
  }

  function thumb(f, r, i) {
    const src = thumbSrc(f.id, false);
    const box = h('div', { class: 'thumb', title: 'large view (Enter)', onclick: () => openLarge(r, i) });
    if (!src) {
      box.append(h('div', { class: 'none', text: `no preview (${(f.file && f.file.kind) || 'file'})` }));
      return box;
    }
    const img = h('img', { src, loading: 'lazy', decoding: 'async', alt: f.path.split('/').pop() });
    img.addEventListener('error', () => {
      img.remove();
      box.append(h('div', { class: 'none', text: `no preview (${(f.file && f.file.kind) || 'file'})` }));
    });
    box.append(img);
    return box;
  }

  function card(row, r, f, i) {
    const isKeeper = row.keeper !== null && i === 0;
    const c = h('div', { class: 'card ' + (isKeeper ? 'keeper' : 'member'), 'data-path': f.path, 'data-id': String(f.id) },
      h('span', { class: 'badge', text: isKeeper ? 'KEEP' : (row.source === 'daemon' ? 'SET ASIDE' : 'DUPLICATE') }),
      thumb(f, r, i), factsOf(f, isKeeper));
    if (!readOnly() && !isKeeper) {
      const b = h('div', { class: 'buttons' });
      if (row.source === 'folder') {
        b.append(h('button', { type: 'button', class: 'keep-both', text: 'Keep both (k)', onclick: () => keepBoth(r, i) }));
        b.append(h('button', { type: 'button', class: 'prefer', text: 'Keep this one instead', onclick: () => act({ op: 'prefer', member: f.id }) }));
      } else {
        b.append(h('button', { type: 'button', class: 'file-anyway', text: 'File it anyway (k)', onclick: () => keepBoth(r, i) }));
      }
      c.append(b);
    }
    c.addEventListener('click', () => select(r, i, false));
    return c;
  }

  function rowEl(row, r) {
    const title = row.source === 'folder'
      ? `Group ${row.group} · ${row.verdict === 'exact' ? 'identical copies' : 'similar copies'}`
      : `Set aside by the daemon · ${row.verdict}` + (row.session ? ` · session ${row.session}` : '');
    const head = h('div', { class: 'row-head' },
      h('span', { class: 'title', text: title }),
      h('span', { class: 'frees', text: `${row.members.length} duplicate(s), ${bytes(row.bytes)} to free` }));
    if (row.reason) head.append(h('span', { class: 'reason', text: row.reason }));
    if (!readOnly() && row.source === 'folder') {
      head.append(h('span', { class: 'actions' },
        h('button', { type: 'button', class: 'trash danger', text: 'Move duplicates to trash (d)', onclick: () => trash(r) })));
    }
    const cards = h('div', { class: 'cards' });
    if (!row.keeper) cards.append(h('div', { class: 'card keeper none', text: 'its keeper is gone' }));
    files(row).forEach((f, i) => cards.append(card(row, r, f, i)));
    const el = h('div', { class: 'row' + (r === cur ? ' current' : ''), id: 'row-' + r, 'data-source': row.source,
      'data-keeper': row.keeper ? row.keeper.path : '' }, head, cards);
    return el;
  }

  function renderMore() {
    const groups = $('groups');
    const upto = Math.min(view.rows.length, shown + PAGE);
    for (let r = shown; r < upto; r++) groups.append(rowEl(view.rows[r], r));
    shown = upto;
    $('more').textContent = shown < view.rows.length ? `showing ${shown} of ${view.rows.length} groups…` : '';
  }

  function render(keepPlace) {
    const rows = view.rows;
    const dups = rows.reduce((n, r) => n + r.members.length, 0);
    const freed = rows.reduce((n, r) => n + r.bytes, 0);
    let s = `${rows.length} group(s), ${dups} duplicate(s), ${bytes(freed)} to free`;
    if (view.dir) s += ` · ${view.files} files in ${view.dir}`;
    if (view.undated.length) s += ` · ${view.undated.length} undated`;
    if (view.failed.length) s += ` · ${view.failed.length} could not be read`;
    $('summary').textContent = s;
    if (view.daemon_note) say(view.daemon_note, false);
    $('undo').disabled = readOnly() || !view.undoable;
    $('undo').hidden = readOnly();
    $('keys').hidden = false;
    const want = keepPlace ? Math.max(shown, PAGE) : PAGE;
    shown = 0;
    $('groups').replaceChildren();
    if (!rows.length) $('groups').append(h('p', { class: 'empty', text: 'No duplicates: nothing to review.' }));
    cur = Math.min(cur, Math.max(rows.length - 1, 0));
    while (shown < Math.min(want, rows.length)) renderMore();
    if (!keepPlace) { cur = 0; sel = 0; }
    select(cur, Math.min(sel, rows[cur] ? files(rows[cur]).length - 1 : 0), false);

    $('undated-section').hidden = !view.undated.length;
    undatedShown = 0;
    $('undated').replaceChildren();
    moreUndated();
    $('failed-section').hidden = !view.failed.length;
    $('failed').replaceChildren(...view.failed.map((f) => h('li', {},
      h('code', { text: f.path }), document.createTextNode(': ' + f.reason))));
  }

  // Undated files, a page at a time: a folder without dates can hold thousands.
  let undatedShown = 0;
  function moreUndated() {
    const box = $('undated');
    const old = box.querySelector('.more-undated');
    if (old) old.remove();
    const upto = Math.min(view.undated.length, undatedShown + 4 * PAGE);
    for (let i = undatedShown; i < upto; i++) {
      const f = view.undated[i];
      box.append(h('div', { class: 'card undated', 'data-path': f.path }, thumb(f, -1, i), factsOf(f, true)));
    }
    undatedShown = upto;
    if (undatedShown < view.undated.length) {
      box.append(h('button', { type: 'button', class: 'more-undated',
        text: `Show more (${view.undated.length - undatedShown} left)`, onclick: moreUndated }));
    }
  }

  function select(r, i, scroll) {
    document.querySelectorAll('.row.current').forEach((e) => e.classList.remove('current'));
    document.querySelectorAll('.card.selected').forEach((e) => e.classList.remove('selected'));
    if (!view || !view.rows.length) return;
    cur = Math.max(0, Math.min(r, view.rows.length - 1));
    while (cur >= shown) renderMore();
    const el = $('row-' + cur);
    const n = files(view.rows[cur]).length;
    sel = Math.max(0, Math.min(i, n - 1));
    if (!el) return;
    el.classList.add('current');
    const cards = el.querySelectorAll('.card[data-id]');
    if (cards[sel]) cards[sel].classList.add('selected');
    if (scroll) (cards[sel] || el).scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  function memberOf(r, i) {
    const row = view.rows[r];
    const m = row.keeper ? i - 1 : i;
    return row.members[Math.max(0, Math.min(m, row.members.length - 1))];
  }

  function keepBoth(r, i) {
    const row = view.rows[r];
    if (!row || !row.members.length) return;
    const m = memberOf(r, i);
    if (row.source === 'daemon') act({ op: 'keep', member: m.id });
    else act({ op: 'not_duplicate', keeper: row.keeper.id, member: m.id });
  }

  function trash(r) {
    const row = view.rows[r];
    if (!row || row.source !== 'folder' || !row.keeper) return;
    act({ op: 'trash', keeper: row.keeper.id });
  }

  function openLarge(r, i) {
    const list = r < 0 ? view.undated : files(view.rows[r]);
    const f = list[i];
    if (!f) return;
    large = { r, i };
    if (r >= 0) select(r, i, false);
    $('large-img').src = thumbSrc(f.id, true);
    $('large-img').alt = f.path;
    const x = f.file || {};
    $('large-cap').textContent = `${f.path} · ${x.width || '?'}×${x.height || '?'} · ${bytes(x.bytes)}` +
      (r >= 0 && i === 0 && view.rows[r].keeper ? ' · KEEP' : '');
    $('large').hidden = false;
  }
  function closeLarge() { large = null; $('large').hidden = true; $('large-img').removeAttribute('src'); }

  document.addEventListener('keydown', (e) => {
    if (!view || e.ctrlKey || e.metaKey || e.altKey) return;
    if (large) {
      const list = large.r < 0 ? view.undated : files(view.rows[large.r]);
      if (e.key === 'Escape' || e.key === 'Enter') closeLarge();
      else if (e.key === 'ArrowRight') openLarge(large.r, (large.i + 1) % list.length);
      else if (e.key === 'ArrowLeft') openLarge(large.r, (large.i + list.length - 1) % list.length);
      else return;
      e.preventDefault();
      return;
    }
    switch (e.key) {
      case 'ArrowDown': case 'j': select(cur + 1, 0, true); break;
      case 'ArrowUp': select(cur - 1, 0, true); break;
      case 'ArrowRight': select(cur, sel + 1, true); break;
      case 'ArrowLeft': select(cur, sel - 1, true); break;
      case 'Enter': openLarge(cur, sel); break;
      case 'k': keepBoth(cur, sel); break;
      case 'd': trash(cur); break;
      case 'u': if (!readOnly() && view.undoable) act({ op: 'undo' }); break;
      default: return;
    }
    e.preventDefault();
  });
  document.addEventListener('DOMContentLoaded', () => {
    $('undo').addEventListener('click', () => act({ op: 'undo' }));
    $('large').addEventListener('click', closeLarge);
    new IntersectionObserver((entries) => {
      if (view && entries.some((x) => x.isIntersecting) && shown < view.rows.length) renderMore();
    }, { rootMargin: '800px' }).observe($('more'));
    load();
  });
})();

// The index of a cultureclip view: filters the rows of data.js (window.VIEW) and shows one page of the
// twin groups that have matching rows. Text from the data is only ever set with textContent (never as
// HTML); the only URLs are the site's own relative paths. The filters live in the URL's #hash, so a
// filtered page can be linked.
"use strict";
(function () {
  const V = window.VIEW, R = V.rows, FILTERS = ["culture", "category", "status", "source"];
  const form = document.getElementById("filters");
  const n = R.group.length;

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function pad(i, w) { return String(i).padStart(w, "0"); }
  function thumb(i) { return "t/" + pad(Math.floor(i / 1000), 3) + "/" + pad(i, 6) + ".jpg"; }

  function select(name, labels) {
    const s = el("select", undefined, { id: "f-" + name, name: name });
    s.appendChild(el("option", "all", { value: "" }));
    labels.forEach((label, k) => s.appendChild(el("option", label, { value: String(k) })));
    s.addEventListener("change", () => apply(0));
    const wrap = el("label", name + " ");
    wrap.appendChild(s);
    form.appendChild(wrap);
    return s;
  }
  const controls = {};
  for (const f of FILTERS) {
    const counts = new Array(V.values[f].length).fill(0);
    for (const v of R[f]) counts[v]++;
    controls[f] = select(f, V.values[f].map((v, k) => v + " (" + counts[k] + ")"));
  }
  const scores = Object.keys(V.scores);
  if (scores.length) {
    controls.score = select("score", scores);
    for (const bound of ["min", "max"]) {
      const input = el("input", undefined, { id: "f-" + bound, name: bound, type: "number", step: "any" });
      input.addEventListener("change", () => apply(0));
      const wrap = el("label", bound + " ");
      wrap.appendChild(input);
      form.appendChild(wrap);
      controls[bound] = input;
    }
  }

  function matching() {
    const want = {};
    for (const f of FILTERS) if (controls[f].value !== "") want[f] = Number(controls[f].value);
    const score = controls.score && controls.score.value !== "" ? V.scores[scores[Number(controls.score.value)]] : null;
    const lo = controls.min && controls.min.value !== "" ? Number(controls.min.value) : -Infinity;
    const hi = controls.max && controls.max.value !== "" ? Number(controls.max.value) : Infinity;
    const byGroup = new Map();
    for (let i = 0; i < n; i++) {
      let ok = true;
      for (const f in want) if (R[f][i] !== want[f]) { ok = false; break; }
      if (ok && score) ok = score[i] !== null && score[i] >= lo && score[i] <= hi;
      if (!ok) continue;
      if (!byGroup.has(R.group[i])) byGroup.set(R.group[i], []);
      byGroup.get(R.group[i]).push(i);
    }
    return [...byGroup.entries()].sort((a, b) => a[0] - b[0]);
  }

  function card(g, members) {
    const [name, page] = V.groups[g];
    const box = el("section", undefined, { class: "group", "data-group": String(g) });
    const head = el("h2");
    head.appendChild(el("a", name, { href: page }));
    box.appendChild(head);
    const concepts = [...new Set(members.map((i) => V.concepts[R.concept[i]]))];
    box.appendChild(el("p", members.length + " rows: " + concepts.join(" · ")));
    const strip = el("div", undefined, { class: "strip" });
    for (const i of members.filter((i) => R.image[i]).slice(0, 8)) {
      const link = el("a", undefined, { href: page });
      link.appendChild(el("img", undefined, { src: thumb(i), alt: V.concepts[R.concept[i]], title: V.concepts[R.concept[i]] }));
      strip.appendChild(link);
    }
    box.appendChild(strip);
    return box;
  }

  function apply(page) {
    const groups = matching(), per = V.per_page, pages = Math.max(1, Math.ceil(groups.length / per));
    page = Math.min(Math.max(page, 0), pages - 1);
    const rows = groups.reduce((s, [, m]) => s + m.length, 0);
    document.getElementById("summary").textContent =
      rows + " rows in " + groups.length + " twin groups match; page " + (page + 1) + " of " + pages + ".";
    const list = document.getElementById("groups");
    list.replaceChildren(...groups.slice(page * per, (page + 1) * per).map(([g, m]) => card(g, m)));
    const pager = document.getElementById("pager");
    pager.replaceChildren();
    const shown = [...new Set([0, pages - 1].concat([...Array(11).keys()].map((k) => page - 5 + k)))];
    for (const p of shown.filter((p) => p >= 0 && p < pages).sort((a, b) => a - b)) {
      const b = el("button", String(p + 1), { type: "button" });
      if (p === page) b.setAttribute("disabled", "");
      b.addEventListener("click", () => apply(p));
      pager.appendChild(b);
    }
    const state = new URLSearchParams();
    for (const [k, c] of Object.entries(controls)) if (c.value !== "") state.set(k, c.value);
    if (page) state.set("page", String(page));
    history.replaceState(null, "", "#" + state.toString());
  }

  const state = new URLSearchParams(location.hash.slice(1));
  for (const [k, c] of Object.entries(controls)) if (state.has(k)) c.value = state.get(k);
  apply(Number(state.get("page") || 0));
})();

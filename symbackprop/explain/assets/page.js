"use strict";
// The page's only job: show the piece of content Python computed for what is clicked, and
// light its paths in the SVG, whose groups matplotlib named: edge-* (an edge), path-* (its
// highlight, drawn invisible), node-* (a neuron's box), label-* (a weight's label).
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const chainBox = document.getElementById("chain");
  const stepsBox = document.getElementById("steps");
  const stepTitle = document.getElementById("step-title");
  const stepBody = document.getElementById("step-body");
  const stepCount = document.getElementById("step-count");
  const prev = document.getElementById("prev");
  const next = document.getElementById("next");
  let step = 0;

  function group(prefix, id) { return document.getElementById(prefix + id); }

  // which panel the picture's highlight belongs to
  function activate(panel) {
    [chainBox, stepsBox].forEach(p => p.classList.toggle("active", p === panel));
  }

  function light(edges, nodes, chosen) {
    document.querySelectorAll("#svg-box .lit, #svg-box .chosen").forEach(el => el.classList.remove("lit", "chosen"));
    edges.forEach(id => { const g = group("path-", id); if (g) g.classList.add("lit"); });
    nodes.forEach(id => { const g = group("node-", id); if (g) g.classList.add("lit"); });
    if (chosen) { const g = group("path-", chosen); if (g) g.classList.add("chosen"); }
  }

  function select(name) {
    const p = data.params[name];
    if (!p) return;
    chainBox.innerHTML = p.html;
    chainBox.dataset.param = name;
    document.querySelectorAll("button.param").forEach(b => b.setAttribute("aria-pressed", String(b.dataset.param === name)));
    light(p.edges, p.nodes, name);
    activate(chainBox);
  }

  function show(k, highlight) {
    step = Math.max(0, Math.min(data.steps.length - 1, k));
    const s = data.steps[step];
    stepTitle.textContent = s.title;
    stepBody.innerHTML = s.html;
    stepCount.textContent = (step + 1) + " / " + data.steps.length;
    prev.disabled = step === 0;
    next.disabled = step === data.steps.length - 1;
    if (highlight) { light(s.edges, s.nodes, null); activate(stepsBox); }
  }

  document.querySelectorAll("button.param").forEach(b => {
    b.addEventListener("click", () => select(b.dataset.param));
    b.addEventListener("focus", () => select(b.dataset.param));
  });
  Object.keys(data.params).forEach(name => {
    ["edge-", "label-"].forEach(prefix => {
      const g = group(prefix, name);
      if (g) g.addEventListener("click", () => select(name));
    });
  });
  next.addEventListener("click", () => show(step + 1, true));
  prev.addEventListener("click", () => show(step - 1, true));
  document.getElementById("clear").addEventListener("click", () => select(chainBox.dataset.param || data.chosen));
  document.getElementById("zoom").addEventListener("click", ev => {
    const zoomed = document.getElementById("svg-box").classList.toggle("zoomed");
    ev.target.setAttribute("aria-pressed", String(zoomed));
  });
  document.addEventListener("keydown", ev => {
    if (ev.target.tagName === "BUTTON" && ev.key === " ") return;
    if (ev.key === "ArrowRight") show(step + 1, true);
    if (ev.key === "ArrowLeft") show(step - 1, true);
  });
  show(0, false);
  select(data.chosen);
})();

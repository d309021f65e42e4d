"use strict";
// The page's only job: show the piece of content Python computed for what is clicked, and
// light up its edges and neurons in the SVG (whose groups matplotlib named edge-*, node-*).
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const chainBox = document.getElementById("chain");
  const stepTitle = document.getElementById("step-title");
  const stepBody = document.getElementById("step-body");
  const stepCount = document.getElementById("step-count");
  let step = -1;

  function group(prefix, id) { return document.getElementById(prefix + id); }

  function light(edges, nodes, chosen) {
    document.querySelectorAll(".lit, .chosen").forEach(el => el.classList.remove("lit", "chosen"));
    edges.forEach(id => { const g = group("edge-", id); if (g) g.classList.add("lit"); });
    nodes.forEach(id => { const g = group("node-", id); if (g) g.classList.add("lit"); });
    if (chosen) { const g = group("edge-", chosen); if (g) g.classList.add("chosen"); }
  }

  function select(name) {
    const p = data.params[name];
    if (!p) return;
    chainBox.innerHTML = p.html;
    chainBox.dataset.param = name;
    document.querySelectorAll("button.param").forEach(b => b.setAttribute("aria-pressed", String(b.dataset.param === name)));
    light(p.edges, p.nodes, name);
  }

  function show(k) {
    step = Math.max(0, Math.min(data.steps.length - 1, k));
    const s = data.steps[step];
    stepTitle.textContent = s.title;
    stepBody.innerHTML = s.html;
    stepCount.textContent = (step + 1) + " / " + data.steps.length;
    light(s.edges, s.nodes, null);
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
  document.getElementById("next").addEventListener("click", () => show(step + 1));
  document.getElementById("prev").addEventListener("click", () => show(step - 1));
  document.getElementById("clear").addEventListener("click", () => select(chainBox.dataset.param || data.chosen));
  document.addEventListener("keydown", ev => {
    if (ev.target.tagName === "BUTTON" && ev.key === " ") return;
    if (ev.key === "ArrowRight") show(step + 1);
    if (ev.key === "ArrowLeft") show(step - 1);
  });
  show(0);
  select(data.chosen);
})();

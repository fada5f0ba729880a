// The service's pages: upload a notebook (raw bytes, Bearer token), or log in to see a feedback page.
"use strict";
const root = document.body.dataset.root || "/";
const lang = document.body.dataset.lang || "en";

function fill(template, values) {
  // The page's wording (in its language, from the course's catalog) with {name} filled in.
  return template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

async function login(token) {
  // The token becomes an HttpOnly cookie, so the feedback links open in this browser.
  return fetch(root + "api/login", {method: "POST", headers: {Authorization: "Bearer " + token}});
}

function show(out, text, ok) {
  out.textContent = text;
  out.className = ok ? "ok" : "error";
}

const upload = document.getElementById("upload");
if (upload) {
  upload.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("result");
    const token = document.getElementById("token").value.trim();
    const assignment = document.getElementById("assignment").value;
    const file = document.getElementById("notebook").files[0];
    const words = upload.dataset;
    show(out, words.grading, true);
    try {
      await login(token);
      const reply = await fetch(root + "api/submit/" + encodeURIComponent(assignment) + "?lang=" + lang, {
        method: "POST", body: file,
        headers: {Authorization: "Bearer " + token, "Content-Type": "application/x-ipynb+json"}});
      const data = await reply.json();
      if (data.error) {
        show(out, data.error, false);
        return;
      }
      show(out, data.score === undefined ? data.message
                : fill(words.score, {score: data.score, points: data.max_score, number: data.submission}) + " ",
           true);
      const link = document.createElement("a");
      link.href = data.feedback;
      link.id = "feedback";
      link.textContent = words.feedback;
      out.append(link);
    } catch (error) {
      show(out, fill(words.unreachable, {error: error}), false);
    }
  });
}

const form = document.getElementById("login");
if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const reply = await login(document.getElementById("token").value.trim());
    if (reply.ok) {
      window.location.reload();
    } else {
      show(document.getElementById("result"), form.dataset.unknown, false);
    }
  });
}

/* Live refresh for the Job Center admin pages: every few seconds, ask the admin's JSON
   endpoint for the status and progress of the jobs and batches shown on the page and update
   badges, bars and counters in place (no reload: filters, selection and scroll stay).
   Polling stops once nothing shown can change any more, except on the dashboard, which
   keeps watching for new work (more slowly while nothing runs) and every so often fetches
   its charts and tables again. */
(function () {
  "use strict";
  var INTERVAL = window.JC_LIVE_INTERVAL || 2500;
  var DASHBOARD_REFRESH = window.JC_DASHBOARD_REFRESH || 30000;
  var dashboard = false;
  var lastRefresh = Date.now();
  var lastCounters = "";
  var UNFINISHED = { pending: true, processing: true };
  var url = window.JC_LIVE_URL || (location.pathname.split("/admin/")[0] + "/admin/jobs/job/live/");

  function ids(selector, attr) {
    var seen = {}, out = [];
    document.querySelectorAll(selector).forEach(function (el) {
      var id = el.getAttribute(attr);
      if (id && !seen[id]) { seen[id] = true; out.push(id); }
    });
    return out;
  }

  function setBadge(el, status) {
    if (el.textContent === status) return;
    el.textContent = status;
    el.className = "jc-badge jc-" + status;
  }

  function updateJob(id, job) {
    document.querySelectorAll('[data-job-status="' + id + '"]').forEach(function (el) { setBadge(el, job.status); });
    var p = job.progress || {};
    var percent = job.status === "completed" ? 100 : Math.max(0, Math.min(100, Number(p.percent) || 0));
    document.querySelectorAll('[data-job-progress="' + id + '"]').forEach(function (el) {
      el.className = "jc-bar jc-bar-" + job.status;
      el.title = p.message || "";
      var fill = el.querySelector(".jc-fill"), label = el.querySelector(".jc-label");
      if (fill) fill.style.width = percent.toFixed(1) + "%";
      if (label) label.textContent = percent.toFixed(0) + " %" + (p.step ? " · " + p.step : "");
    });
    document.querySelectorAll('[data-job-error="' + id + '"]').forEach(function (el) {
      setCode(el, job.error_code || "", job.error_message || "");
    });
  }

  /* A failed job's error code, breakable after its underscores as the server draws it
     (jobs/admin_ui.py: error_code_tag); empty for any other status. */
  function setCode(el, code, message) {
    if (el.textContent === code) return;
    el.textContent = "";
    el.title = message;
    code.split("_").forEach(function (part, index) {
      if (index) { el.appendChild(document.createTextNode("_")); el.appendChild(document.createElement("wbr")); }
      el.appendChild(document.createTextNode(part));
    });
  }

  function updateBatch(id, batch) {
    document.querySelectorAll('[data-batch-status="' + id + '"]').forEach(function (el) { setBadge(el, batch.status); });
    var c = batch.counts, total = c.total || 1;
    document.querySelectorAll('[data-batch-progress="' + id + '"]').forEach(function (el) {
      el.querySelectorAll("[data-seg]").forEach(function (seg) {
        seg.style.width = (100 * (c[seg.getAttribute("data-seg")] || 0) / total).toFixed(2) + "%";
      });
      var finished = c.completed + c.failed + c.cancelled;
      el.setAttribute("data-percent", (100 * finished / total).toFixed(0));
      var label = el.querySelector(".jc-label");
      if (label) label.textContent = batch.label;
    });
    Object.keys(c).forEach(function (key) {
      document.querySelectorAll('[data-batch-counter="' + id + ":" + key + '"]').forEach(function (el) {
        el.textContent = c[key];
      });
    });
  }

  function anyRunning() {
    var running = false;
    document.querySelectorAll("[data-job-status], [data-batch-status]").forEach(function (el) {
      if (UNFINISHED[el.textContent.trim()]) running = true;
    });
    document.querySelectorAll("[data-counter]").forEach(function (el) {
      if (Number(el.textContent) > 0) running = true;
    });
    return running;
  }

  function poll() {
    var jobs = ids("[data-job-status], [data-job-progress]", "data-job-status").concat(
      ids("[data-job-progress]", "data-job-progress"));
    var batches = ids("[data-batch-status]", "data-batch-status").concat(
      ids("[data-batch-progress]", "data-batch-progress"));
    var query = "?jobs=" + encodeURIComponent(jobs.join(",")) +
      "&batches=" + encodeURIComponent(batches.join(",")) + (dashboard ? "&dashboard=1" : "");
    fetch(url + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        Object.keys(data.jobs || {}).forEach(function (id) { updateJob(id, data.jobs[id]); });
        Object.keys(data.batches || {}).forEach(function (id) { updateBatch(id, data.batches[id]); });
        Object.keys(data.counters || {}).forEach(function (key) {
          document.querySelectorAll('[data-counter="' + key + '"]').forEach(function (el) { el.textContent = data.counters[key]; });
        });
        if (dashboard) {
          watch(data);
        } else if (data.running) {
          window.setTimeout(poll, INTERVAL);
        } else {
          refreshFragments(true);
        }
      })
      .catch(function () {
        document.documentElement.setAttribute("data-jc-live", "error");
        window.setTimeout(poll, INTERVAL * 4);
      });
  }

  /* The dashboard: the charts, tables and 24-hour counters come again when the queue
     changed (at most every third of DASHBOARD_REFRESH) or every DASHBOARD_REFRESH anyway. */
  function watch(data) {
    var counters = JSON.stringify(data.counters || {});
    if (lastCounters === "") lastCounters = counters;  // as the page was drawn
    var since = Date.now() - lastRefresh;
    if ((counters !== lastCounters && since >= DASHBOARD_REFRESH / 3) || since >= DASHBOARD_REFRESH) {
      lastRefresh = Date.now();
      lastCounters = counters;
      refreshFragments(false);
    }
    document.documentElement.setAttribute("data-jc-live", data.running ? "running" : "idle");
    window.setTimeout(poll, data.running ? INTERVAL : INTERVAL * 4);
  }

  /* Once the work shown has ended, the parts that depend on it (action buttons, facts,
     a batch's job table) are fetched again and swapped in place: no reload, so scroll
     position and anything typed stay (a part holding the focused field, or one typed in
     and not sent, is left as it is). */
  /* A field typed in but not yet sent: its part is not swapped, or the value would go. */
  function edited(el) {
    return Array.prototype.some.call(el.querySelectorAll("input, textarea, select"), function (field) {
      if (field.type === "hidden" || field.type === "submit") return false;
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
      }
      return field.type === "checkbox" || field.type === "radio"
        ? field.checked !== field.defaultChecked
        : field.value !== field.defaultValue;
    });
  }

  function refreshFragments(stop) {
    var parts = document.querySelectorAll("[data-jc-refresh]");
    var done = function () {
      if (stop) document.documentElement.setAttribute("data-jc-live", "stopped");
    };
    if (!parts.length) { done(); return; }
    fetch(location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        parts.forEach(function (el) {
          var key = el.getAttribute("data-jc-refresh");
          var replacement = fresh.querySelector('[data-jc-refresh="' + key + '"]');
          if (replacement && !el.contains(document.activeElement) && !edited(el)) {
            el.replaceWith(document.importNode(replacement, true));
          }
        });
      })
      .catch(function () {})
      .then(done);
  }

  function start() {
    dashboard = !!document.querySelector("[data-jc-dashboard]");
    if (dashboard) {
      document.documentElement.setAttribute("data-jc-live", anyRunning() ? "running" : "idle");
      window.setTimeout(poll, anyRunning() ? INTERVAL : INTERVAL * 4);
    } else if (anyRunning()) {
      document.documentElement.setAttribute("data-jc-live", "running");
      window.setTimeout(poll, INTERVAL);
    } else {
      document.documentElement.setAttribute("data-jc-live", "idle");
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/*
 * The tracking widget: a search box and a parcel's status timeline, for a company's own web pages.
 *
 *   <script src="https://api.example/api/widget.js" data-key="tb_pk_..." data-bot="123" data-lang="ru"></script>
 *
 * Renders where the script tag stands (or into the element whose id is in data-target). It talks only to the
 * server it was loaded from, with the page's publishable key (never a secret one), and asks nothing of any
 * other host. CSP-friendly: no inline code, no eval, no style element (styles are set through the DOM), and
 * every text from the server goes in as text, never as HTML. Russian and English: data-lang, else the
 * browser's language.
 *
 * Live updates: while the page is visible, the shown parcel is asked for again every data-refresh seconds
 * (default 60, at least 10; 0 turns it off) with If-None-Match, so an unchanged parcel costs a 304 and no body.
 * A hidden page (another tab, a minimised window) asks nothing; it asks at once when it is shown again.
 */
(function () {
  "use strict";

  var MESSAGES = {
    en: {
      title: "Track a parcel",
      placeholder: "Tracking number",
      search: "Track",
      searching: "Looking it up…",
      current: "Current status",
      timeline: "History",
      notFound: "No parcel with this tracking number.",
      tooMany: "Too many lookups; please try again in a minute.",
      failed: "The lookup failed; please try again later.",
      empty: "Enter a tracking number.",
      statuses: {pending: "Awaiting shipment", in_transit: "In transit", delivered: "Delivered",
                 issued: "Handed to the recipient", cancelled: "Cancelled"}
    },
    ru: {
      title: "Отследить посылку",
      placeholder: "Трек-номер",
      search: "Найти",
      searching: "Ищем…",
      current: "Текущий статус",
      timeline: "История",
      notFound: "Посылка с таким трек-номером не найдена.",
      tooMany: "Слишком много запросов; попробуйте через минуту.",
      failed: "Не удалось выполнить поиск; попробуйте позже.",
      empty: "Введите трек-номер.",
      statuses: {pending: "Ожидает отправки", in_transit: "В пути", delivered: "Доставлена",
                 issued: "Выдана получателю", cancelled: "Отменена"}
    }
  };
  var COLORS = {pending: "#8a6d00", in_transit: "#0b5cad", delivered: "#1b7f3b", issued: "#1b7f3b",
                cancelled: "#a12622"};

  var script = document.currentScript;
  if (!script) {
    return;
  }
  var DEFAULT_REFRESH_SECONDS = 60;
  // Each visitor has 20 lookups a minute (the widget's per-address budget), and a check is two of them: browsers
  // send a conditional request's CORS pre-flight every time (Chromium does not reuse a cached one for it). At
  // most every 10 s leaves room for the visitor's own searches.
  var MIN_REFRESH_SECONDS = 10;
  var config = {
    key: script.getAttribute("data-key") || "",
    bot: script.getAttribute("data-bot") || "",
    lang: pickLanguage(script.getAttribute("data-lang")),
    api: new URL(script.src, document.baseURI).origin,
    refreshMs: refreshInterval(script.getAttribute("data-refresh")) * 1000
  };
  // The parcel on show: its number, the ETag of what is shown, the element it is shown in, the next check.
  var shown = {number: null, etag: null, result: null, timer: null, checkedAt: 0};
  var text = MESSAGES[config.lang];

  function pickLanguage(wanted) {
    var language = (wanted || navigator.language || "en").toLowerCase().slice(0, 2);
    return MESSAGES[language] ? language : "en";
  }

  function refreshInterval(wanted) {
    if (wanted === null || wanted === "") {
      return DEFAULT_REFRESH_SECONDS;
    }
    var seconds = Number(wanted);
    if (!isFinite(seconds) || seconds <= 0) {
      return 0;
    }
    return Math.max(seconds, MIN_REFRESH_SECONDS);
  }

  function element(tag, styles, content) {
    var node = document.createElement(tag);
    Object.keys(styles || {}).forEach(function (name) { node.style[name] = styles[name]; });
    if (content !== undefined) {
      node.textContent = content;
    }
    return node;
  }

  function statusName(status) {
    return text.statuses[status] || status;
  }

  function formatTime(iso) {
    var moment = new Date(iso);
    return isNaN(moment) ? iso : moment.toLocaleString(config.lang === "ru" ? "ru-RU" : "en-GB",
      {year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit"});
  }

  function build() {
    var root = element("div", {fontFamily: "system-ui, sans-serif", maxWidth: "28rem", padding: "1rem",
                               border: "1px solid #d0d4da", borderRadius: "8px", color: "#1d2430",
                               background: "#ffffff", boxSizing: "border-box"});
    root.className = "tracker-widget";
    root.setAttribute("lang", config.lang);
    root.appendChild(element("h3", {margin: "0 0 0.75rem", fontSize: "1.1rem"}, text.title));
    var form = element("form", {display: "flex", gap: "0.5rem"});
    form.setAttribute("role", "search");
    var input = element("input", {flex: "1", padding: "0.5rem", fontSize: "1rem", border: "1px solid #9aa3af",
                                  borderRadius: "4px", minWidth: "0"});
    input.type = "text";
    input.name = "tracking_number";
    input.placeholder = text.placeholder;
    input.setAttribute("aria-label", text.placeholder);
    input.maxLength = 64;
    input.autocomplete = "off";
    var button = element("button", {padding: "0.5rem 1rem", fontSize: "1rem", border: "0", borderRadius: "4px",
                                    background: "#0b5cad", color: "#ffffff", cursor: "pointer"}, text.search);
    button.type = "submit";
    form.appendChild(input);
    form.appendChild(button);
    root.appendChild(form);
    var result = element("div", {marginTop: "0.75rem"});
    result.className = "tracker-widget-result";
    result.setAttribute("aria-live", "polite");
    root.appendChild(result);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      lookUp(input.value.trim(), result, button);
    });
    return root;
  }

  function showMessage(result, message) {
    result.replaceChildren(element("p", {margin: "0", color: "#a12622"}, message));
    result.lastChild.className = "tracker-widget-message";
  }

  function showParcel(result, parcel) {
    var status = element("p", {margin: "0 0 0.5rem"});
    status.appendChild(element("span", {}, text.current + ": "));
    var current = element("strong", {color: COLORS[parcel.current_status] || "inherit"},
                          statusName(parcel.current_status));
    current.className = "tracker-widget-status";
    status.appendChild(current);
    var list = element("ol", {listStyle: "none", margin: "0", padding: "0 0 0 1rem",
                              borderLeft: "2px solid #d0d4da"});
    list.className = "tracker-widget-timeline";
    list.setAttribute("aria-label", text.timeline);
    parcel.history.slice().reverse().forEach(function (step, index) {
      var item = element("li", {margin: "0 0 0.5rem", fontWeight: index === 0 ? "600" : "400"});
      item.setAttribute("data-status", step.status);
      item.appendChild(element("div", {}, statusName(step.status)));
      item.appendChild(element("div", {fontSize: "0.85rem", color: "#5b6472"}, formatTime(step.changed_at)));
      list.appendChild(item);
    });
    result.replaceChildren(element("p", {margin: "0 0 0.25rem", fontFamily: "monospace"}, parcel.tracking_number),
                           status, list);
  }

  function request(number, etag) {
    var url = config.api + "/api/v1/widget/" + encodeURIComponent(config.bot) + "/track/" +
              encodeURIComponent(number);
    var headers = {"X-API-Key": config.key};
    if (etag) {
      headers["If-None-Match"] = etag;
    }
    return fetch(url, {headers: headers, credentials: "omit", referrerPolicy: "no-referrer"});
  }

  function lookUp(number, result, button) {
    stopRefreshing();
    shown.number = null;
    if (!number) {
      showMessage(result, text.empty);
      return;
    }
    button.disabled = true;
    result.replaceChildren(element("p", {margin: "0", color: "#5b6472"}, text.searching));
    request(number, null)
      .then(function (response) {
        if (response.ok) {
          return response.json().then(function (parcel) {
            showParcel(result, parcel);
            shown = {number: number, etag: response.headers.get("ETag"), result: result, timer: null,
                     checkedAt: Date.now()};
            scheduleRefresh();
          });
        }
        showMessage(result, response.status === 404 ? text.notFound
                                                    : response.status === 429 ? text.tooMany : text.failed);
      })
      .catch(function () { showMessage(result, text.failed); })
      .then(function () { button.disabled = false; });
  }

  // --- live updates: only while the page is visible ---------------------------------------------------------

  function scheduleRefresh() {
    stopRefreshing();
    if (shown.number && config.refreshMs && !document.hidden) {
      var due = Math.max(0, shown.checkedAt + config.refreshMs - Date.now());
      shown.timer = setTimeout(refresh, due);
    }
  }

  function stopRefreshing() {
    clearTimeout(shown.timer);
    shown.timer = null;
  }

  function refresh() {
    var number = shown.number;
    shown.checkedAt = Date.now();
    request(number, shown.etag)
      .then(function (response) {
        if (number !== shown.number) {
          return null;  // the visitor looked up another parcel meanwhile
        }
        if (response.status === 200) {
          return response.json().then(function (parcel) {
            shown.etag = response.headers.get("ETag");
            showParcel(shown.result, parcel);
          });
        }
        if (response.status === 404) {
          showMessage(shown.result, text.notFound);
          shown.number = null;
        }
        return null;  // 304: what is shown is current; 429 or a failure: keep it, try again later
      })
      .catch(function () { return null; })
      .then(function () {
        if (number === shown.number) {
          scheduleRefresh();
        }
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stopRefreshing();
    } else {
      scheduleRefresh();  // at once if a check fell due while hidden
    }
  });

  function mount() {
    var target = script.getAttribute("data-target");
    var host = target && document.getElementById(target);
    var widget = build();
    if (host) {
      host.appendChild(widget);
    } else {
      script.parentNode.insertBefore(widget, script.nextSibling);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();

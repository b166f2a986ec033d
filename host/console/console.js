// Switchboard admin console: polls /stats.json once a second and draws what it finds.
// Plain script, no build step; Chart.js comes from Debian's libjs-chart.js (/console/vendor/chart.js).
'use strict';

(function () {
  const WINDOW_SECONDS = 15 * 60;
  const POLL_MS = 1000;
  const KNOWN = {
    // The figures a person looks for first; every other family of the plugin is listed after them.
    peerjs: ['peers', 'queued_messages'],
    govpn: ['rooms', 'online_members'],
    together: ['users_online', 'gateway_sessions'],
    peervault: ['subscribers']
  };

  const state = {
    token: '',
    previous: null,      // the last stats document, for rates
    history: {},         // plugin -> {connections: [{x,y}], messages: [{x,y}]}
    charts: null,
    configLoaded: false,
    polling: false
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    }
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function readToken() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      const t = decodeURIComponent(m[1]);
      try { sessionStorage.setItem('switchboard-admin-token', t); } catch (e) { /* storage off */ }
      // Out of the address bar, so it is not shared with a screenshot or a copied link.
      history.replaceState(null, '', location.pathname + location.search);
      return t;
    }
    try { return sessionStorage.getItem('switchboard-admin-token') || ''; } catch (e) { return ''; }
  }

  async function get(path, asText) {
    const headers = {};
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const response = await fetch(path, { headers, cache: 'no-store' });
    if (response.status === 401) {
      const err = new Error('unauthorized');
      err.unauthorized = true;
      throw err;
    }
    if (!response.ok) throw new Error(path + ': HTTP ' + response.status);
    return asText ? response.text() : response.json();
  }

  function series(stats, family) {
    const f = stats.metrics[family];
    return f ? f.samples : [];
  }

  function perPlugin(stats, family) {
    const out = {};
    for (const s of series(stats, family)) {
      if (s.labels && s.labels.plugin !== undefined && typeof s.value === 'number') out[s.labels.plugin] = s.value;
    }
    return out;
  }

  function formatDuration(seconds) {
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
    const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    return (d ? d + 'd ' : '') + (d || h ? h + 'h ' : '') + (d || h || m ? m + 'm ' : '') + s + 's';
  }

  function formatNumber(v) {
    if (typeof v !== 'number') return String(v);
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }

  function labelText(labels) {
    const parts = Object.entries(labels || {}).map(([k, v]) => k + '="' + v + '"');
    return parts.length ? '{' + parts.join(',') + '}' : '';
  }

  function makeCharts() {
    if (typeof window.Chart !== 'function') {
      const note = $('chart-missing');
      note.hidden = false;
      note.textContent = 'Charts unavailable: /console/vendor/chart.js did not load. Install Debian\'s ' +
        'libjs-chart.js on the host and restart it; the figures below still update.';
      return null;
    }
    const options = () => ({
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      elements: { point: { radius: 0 }, line: { borderWidth: 1.5, tension: 0 } },
      scales: {
        x: {
          type: 'linear',
          ticks: {
            maxTicksLimit: 8,
            callback: (v) => new Date(v * 1000).toLocaleTimeString()
          }
        },
        y: { beginAtZero: true }
      },
      plugins: { legend: { position: 'bottom' } }
    });
    // The window is set on the options object given to Chart (the chart's own options are a
    // resolving proxy that does not keep assignments to nested scale options).
    const make = (id) => {
      const own = options();
      return { chart: new window.Chart($(id), { type: 'line', data: { datasets: [] }, options: own }), options: own };
    };
    return { connections: make('chart-connections'), messages: make('chart-messages') };
  }

  const PALETTE = ['#3366cc', '#dc3912', '#ff9900', '#109618', '#990099', '#0099c6', '#dd4477', '#66aa00'];

  function updateCharts(now) {
    if (!state.charts) return;
    const names = Object.keys(state.history).sort();
    for (const kind of ['connections', 'messages']) {
      const { chart, options } = state.charts[kind];
      chart.data.datasets = names.map((name, i) => {
        const existing = chart.data.datasets.find((d) => d.label === name);
        const data = state.history[name][kind];
        if (existing) { existing.data = data; return existing; }
        const color = PALETTE[i % PALETTE.length];
        return { label: name, data, borderColor: color, backgroundColor: color };
      });
      options.scales.x.min = now - WINDOW_SECONDS;
      options.scales.x.max = now;
      chart.options = options;
      chart.update('none');
    }
  }

  function record(stats) {
    const now = stats.time_ms / 1000;
    const open = perPlugin(stats, 'switchboard_plugin_connections_open');
    const received = perPlugin(stats, 'switchboard_plugin_messages_received_total');
    const sent = perPlugin(stats, 'switchboard_plugin_messages_sent_total');
    const prev = state.previous;
    const rates = {};
    for (const p of stats.plugins) {
      const name = p.name;
      const h = state.history[name] || (state.history[name] = { connections: [], messages: [] });
      let inRate = 0, outRate = 0;
      if (prev) {
        const dt = (stats.time_ms - prev.stats.time_ms) / 1000;
        if (dt > 0) {
          inRate = Math.max(0, ((received[name] || 0) - (prev.received[name] || 0)) / dt);
          outRate = Math.max(0, ((sent[name] || 0) - (prev.sent[name] || 0)) / dt);
        }
      }
      rates[name] = { connections: open[name] || 0, received: inRate, sent: outRate };
      h.connections.push({ x: now, y: open[name] || 0 });
      if (prev) h.messages.push({ x: now, y: inRate + outRate });
      for (const kind of ['connections', 'messages']) {
        while (h[kind].length && h[kind][0].x < now - WINDOW_SECONDS) h[kind].shift();
      }
    }
    state.previous = { stats, received, sent };
    return rates;
  }

  function renderSummary(stats) {
    $('version').textContent = stats.version;
    $('uptime').textContent = formatDuration(stats.uptime_seconds);
    $('uptime').dataset.seconds = String(stats.uptime_seconds);
    $('ready').textContent = stats.ready ? 'yes' : 'no';
    $('generation').textContent = String(stats.configuration_generation);
    $('updated').textContent = new Date(stats.time_ms).toLocaleTimeString();
  }

  function mountText(p) {
    const mounts = Array.isArray(p.mounts) && p.mounts.length ? p.mounts.join(', ') : (p.prefix || '/');
    return p.listener + ': ' + mounts;
  }

  function renderPlugins(stats, rates) {
    const body = $('plugins').tBodies[0];
    body.replaceChildren();
    for (const p of stats.plugins) {
      const r = rates[p.name] || { connections: 0, received: 0, sent: 0 };
      const row = el('tr', { 'data-plugin': p.name });
      row.append(el('td', null, p.name + (p.version ? ' ' + p.version : '')));
      row.append(el('td', { class: 'state-' + p.state, 'data-state': p.state }, p.state + (p.message ? ': ' + p.message : '')));
      row.append(el('td', null, mountText(p)));
      row.append(el('td', { class: 'num', 'data-rate': 'connections', 'data-value': r.connections }, r.connections));
      row.append(el('td', { class: 'num', 'data-rate': 'received', 'data-value': r.received.toFixed(2) }, r.received.toFixed(1)));
      row.append(el('td', { class: 'num', 'data-rate': 'sent', 'data-value': r.sent.toFixed(2) }, r.sent.toFixed(1)));
      body.append(row);
    }
  }

  function familiesOf(stats, plugin) {
    const prefix = 'switchboard_' + plugin + '_';
    const names = Object.keys(stats.metrics).filter((n) => n.startsWith(prefix));
    const known = (KNOWN[plugin] || []).map((n) => prefix + n);
    return known.filter((n) => names.includes(n)).concat(names.filter((n) => !known.includes(n)).sort());
  }

  function renderFigures(stats) {
    const box = $('figures');
    box.replaceChildren();
    const shown = new Set();
    for (const p of stats.plugins) {
      const families = familiesOf(stats, p.name);
      const part = el('div', { class: 'figures-plugin', 'data-plugin': p.name });
      part.append(el('h3', null, p.name));
      if (!families.length) {
        part.append(el('p', { class: 'muted' }, 'This plugin exports no figures of its own.'));
      } else {
        const table = el('table');
        for (const name of families) {
          shown.add(name);
          const f = stats.metrics[name];
          const short = name.slice(('switchboard_' + p.name + '_').length);
          const samples = f.samples.filter((s) => !s.name || !s.name.endsWith('_bucket'));
          if (!samples.length) continue;
          let total = 0;
          for (const s of samples) if (typeof s.value === 'number' && !s.name) total += s.value;
          const row = el('tr', { 'data-metric': short, 'data-value': String(total) });
          row.append(el('th', { title: f.help }, short));
          const detail = samples.length === 1 && !samples[0].name && !Object.keys(samples[0].labels).length
            ? formatNumber(samples[0].value)
            : formatNumber(total) + '  (' + samples.map((s) => (s.name ? s.name.slice(name.length) : '') +
                labelText(s.labels) + ' ' + formatNumber(s.value)).join('; ') + ')';
          row.append(el('td', { class: 'num' }, detail));
          table.append(row);
        }
        part.append(table);
      }
      box.append(part);
    }
    return shown;
  }

  function renderOther(stats, shown) {
    const body = $('other-metrics').tBodies[0];
    body.replaceChildren();
    for (const [name, f] of Object.entries(stats.metrics)) {
      if (shown.has(name)) continue;
      for (const s of f.samples) {
        if (s.name && s.name.endsWith('_bucket')) continue;
        const row = el('tr');
        row.append(el('td', { title: f.help }, (s.name || name) + labelText(s.labels)));
        row.append(el('td', { class: 'num' }, formatNumber(s.value)));
        body.append(row);
      }
    }
  }

  function renderLog(stats) {
    const body = $('log').tBodies[0];
    body.replaceChildren();
    const lines = (stats.log && stats.log.lines) || [];
    if (!lines.length) {
      const row = el('tr');
      row.append(el('td', { colspan: '4' }, 'None since start-up.'));
      body.append(row);
      return;
    }
    for (const line of lines.slice().reverse()) {
      const row = el('tr', { class: 'level-' + line.level });
      row.append(el('td', null, new Date(line.time_ms).toLocaleString()));
      row.append(el('td', null, line.level));
      row.append(el('td', null, line.source));
      row.append(el('td', null, line.text));
      body.append(row);
    }
  }

  function askForToken(message) {
    const form = $('token-form');
    form.hidden = false;
    $('status').textContent = message;
  }

  async function poll() {
    if (state.polling) return;
    state.polling = true;
    try {
      const stats = await get('/stats.json');
      $('status').textContent = '';
      $('token-form').hidden = true;
      const rates = record(stats);
      renderSummary(stats);
      renderPlugins(stats, rates);
      renderOther(stats, renderFigures(stats));
      renderLog(stats);
      updateCharts(stats.time_ms / 1000);
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
      // Fetched again whenever a reload (SIGHUP) applied a new configuration.
      if (state.configGeneration !== stats.configuration_generation) {
        state.configGeneration = stats.configuration_generation;
        get('/console/config.txt', true).then((text) => { $('config').textContent = text; })
          .catch(() => { state.configGeneration = undefined; });
      }
    } catch (e) {
      if (e.unauthorized) askForToken(state.token ? 'The token was refused.' : 'A token is needed.');
      else $('status').textContent = 'No answer from the server (' + e.message + '); retrying.';
    } finally {
      state.polling = false;
    }
  }

  function start() {
    state.token = readToken();
    state.charts = makeCharts();
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      state.token = $('token-input').value.trim();
      try { sessionStorage.setItem('switchboard-admin-token', state.token); } catch (e) { /* storage off */ }
      poll();
    });
    poll();
    setInterval(poll, POLL_MS);
  }

  start();
})();

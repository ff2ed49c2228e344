// THE PAGE REGISTRY — adding a page = ONE line below + ONE module file in this folder.
//
//   { path: '/analytics', title: 'Analytics', nav: 'Analytics', load: () => import('./analytics.js') },
//
//   path   the URL; ':name' segments become params ('/groups/:id' → params.id, a string)
//   title  the browser tab title and the page heading
//   nav    its label in the navigation bar, or null for pages reached by links only
//   load   a lazy import; the module's DEFAULT export is a Preact component, rendered with
//          { params, query } (query: URLSearchParams of the address)
//   admin  optional; true keeps the nav entry away from operators (the API guards the data)
//
// Order = order in the navigation. The login is not a page: the shell shows it without a
// session. Building blocks for pages: ../html.js (html``), ../api.js (get/post/del, errors),
// ../live.js (useTopic: live data), ../format.js (every number and time shown), ../table.js
// (DataTable), ../ui.js (AdminButton, useAction, Card, Stat, Badge), ../confirm.js.
export const PAGES = [
  { path: '/', title: 'Dashboard', nav: 'Dashboard', load: () => import('./dashboard.js') },
  { path: '/positions', title: 'Positions & Pyramids', nav: 'Positions', load: () => import('./positions.js') },
  { path: '/groups/:id', title: 'Group detail', nav: null, load: () => import('./group.js') },
  { path: '/analytics', title: 'Performance & Portfolio', nav: 'Performance', load: () => import('./analytics.js') },
  { path: '/risk', title: 'Risk Engine', nav: 'Risk', load: () => import('./risk.js') },
  { path: '/queue', title: 'Waiting Queue', nav: 'Queue', load: () => import('./queue.js') },
  { path: '/logs', title: 'Logs & Alerts', nav: 'Logs', load: () => import('./logs.js') },
  { path: '/signals', title: 'Signals', nav: 'Signals', load: () => import('./signals.js') },
  { path: '/tradingview', title: 'TradingView setup', nav: 'TradingView', load: () => import('./tradingview.js') },
  { path: '/settings', title: 'Settings', nav: 'Settings', load: () => import('./settings.js') },
];

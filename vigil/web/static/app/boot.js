// Runs before main.js: asks at once for every module the address's page imports, however deep
// (from the import graph the server puts in the page, <meta name="vigil-modules">), so that
// they arrive beside the shell's own instead of one level of imports after another. What the
// shell itself imports (main.js's graph) is left to main.js.
import { PAGE_MODULES, addressPage } from "./pages.js";

function closure(graph, start) {
  const seen = new Set();
  const waiting = [start];
  while (waiting.length) {
    const module = waiting.pop();
    if (seen.has(module)) continue;
    seen.add(module);
    waiting.push(...(graph[module] || []));
  }
  return seen;
}

const meta = document.querySelector('meta[name="vigil-modules"]');
if (meta) {
  const graph = JSON.parse(meta.content);
  const shell = closure(graph, "app/main.js");
  for (const module of closure(graph, `app/${PAGE_MODULES[addressPage()][0]}`)) {
    if (shell.has(module)) continue;
    const link = document.createElement("link");
    link.rel = "modulepreload";
    link.href = `/static/${module}`;
    document.head.append(link);
  }
}

// Builds the browser assets Cosource serves (run by `make assets`; the outputs are committed so a
// plain `pip install` or a clean clone serves them without Node):
//   widget/cosource-ideas.js          -> api/static/widget.min.js   (esbuild --minify)
//   graphiql, react, react-dom (npm)  -> api/static/graphiql/        (vendored: no CDN at run time)
//   uplot (npm)                       -> api/static/vendor/          (the console's charts)
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const here = new URL("..", import.meta.url).pathname;
const mod = (p) => here + "node_modules/" + p;
const out = here + "api/static/";

await build({
  entryPoints: [here + "widget/cosource-ideas.js"],
  outfile: out + "widget.min.js",
  minify: true,
  target: "es2020",
  charset: "utf8",
  legalComments: "none",
  logLevel: "warning",
});

mkdirSync(out + "graphiql", { recursive: true });
copyFileSync(mod("react/umd/react.production.min.js"), out + "graphiql/react.production.min.js");
copyFileSync(mod("react-dom/umd/react-dom.production.min.js"), out + "graphiql/react-dom.production.min.js");
await build({ entryPoints: [mod("graphiql/graphiql.min.css")], outfile: out + "graphiql/graphiql.min.css", minify: true, logLevel: "error" });
// graphiql's UMD file ships unminified (3.5 MB); minify it once here.
await build({
  entryPoints: [mod("graphiql/graphiql.min.js")],
  outfile: out + "graphiql/graphiql.min.js",
  minify: true,
  target: "es2020",
  legalComments: "none",
  logLevel: "error",
});
const licences = ["graphiql", "react", "react-dom"].map((name) => {
  const pkg = JSON.parse(readFileSync(mod(name + "/package.json"), "utf8"));
  return `${name} ${pkg.version} (${pkg.license})\n\n${readFileSync(mod(name + "/LICENSE"), "utf8")}`;
});
writeFileSync(out + "graphiql/THIRD-PARTY-LICENSES.txt", licences.join("\n\n----\n\n"));

mkdirSync(out + "vendor", { recursive: true });
copyFileSync(mod("uplot/dist/uPlot.iife.min.js"), out + "vendor/uPlot.iife.min.js");
copyFileSync(mod("uplot/dist/uPlot.min.css"), out + "vendor/uPlot.min.css");
const uplot = JSON.parse(readFileSync(mod("uplot/package.json"), "utf8"));
writeFileSync(
  out + "vendor/THIRD-PARTY-LICENSES.txt",
  `uplot ${uplot.version} (${uplot.license})\n\n${readFileSync(mod("uplot/LICENSE"), "utf8")}`,
);

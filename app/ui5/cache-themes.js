/**
 * UI5 server middleware: keeps the themes the UI5 server compiles (LESS to CSS, several seconds per library
 * on the first request of each server) in node_modules/.cache/ui5-themes, named by library, theme and their
 * versions, so that a new server (e.g. each run of the browser tests) serves them at once. The first
 * request of a file goes through to the UI5 server's theme build; its 200 answer is written to the cache.
 */
const fs = require("fs");
const path = require("path");

const THEME_FILE = /^\/resources\/(.+)\/themes\/([^/]+)\/(library(?:-RTL)?\.css|library-parameters\.json|css_variables\.(?:css|source\.less)|library_skeleton(?:-RTL)?\.css)$/;
const CACHE = path.join(__dirname, "..", "..", "node_modules", ".cache", "ui5-themes");
const TYPES = { ".css": "text/css", ".json": "application/json", ".less": "text/plain" };

module.exports = function ({ log, middlewareUtil }) {
  function version(name) {
    try {
      const project = middlewareUtil.getProject(name);
      return project ? project.getVersion() : undefined;
    } catch {
      return undefined;
    }
  }

  /** The cache file of a theme file, or undefined when the library or its theme library is unknown. */
  function cacheFile(namespace, theme, file) {
    const library = version(namespace.replace(/\//g, "."));
    const themeLibrary = version(`themelib_${theme}`);
    if (!library) return undefined;
    return path.join(CACHE, `${namespace.replace(/\//g, ".")}@${library}`, `${theme}@${themeLibrary || "own"}`, file);
  }

  return function cacheThemes(req, res, next) {
    const match = req.method === "GET" && THEME_FILE.exec(req.path);
    if (!match) return next();
    const file = cacheFile(match[1], match[2], match[3]);
    if (!file) return next();
    fs.readFile(file, (error, content) => {
      if (!error) {
        res.type(TYPES[path.extname(file)] || "application/octet-stream");
        return res.end(content);
      }
      // not cached yet: the UI5 server builds the theme; its answer is kept
      const chunks = [];
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      res.write = function (chunk, ...rest) {
        if (chunk) chunks.push(Buffer.from(chunk));
        return write(chunk, ...rest);
      };
      res.end = function (chunk, ...rest) {
        if (chunk && typeof chunk !== "function") chunks.push(Buffer.from(chunk));
        if (res.statusCode === 200 && chunks.length) {
          const partial = `${file}.${process.pid}.tmp`;
          fs.promises
            .mkdir(path.dirname(file), { recursive: true })
            .then(() => fs.promises.writeFile(partial, Buffer.concat(chunks)))
            .then(() => fs.promises.rename(partial, file))
            .catch(failure => log.warn(`${req.path} not cached: ${failure.message}`));
        }
        return end(chunk, ...rest);
      };
      next();
    });
  };
};

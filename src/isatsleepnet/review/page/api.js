/* ISATSleepNet review page: the requests to the server and the parsing of its binary answers.
 *
 * Plain script, no modules: it defines one global, ReviewApi, that review.js uses.
 * Every request carries the page's token in the X-Review-Token header; a tab showing one
 * night of a folder names it in every request about a night.
 */
"use strict";

(function () {
  const CACHE_SIZE = 12;  // windows kept (the current one, its neighbours, a few visited)

  /** The JSON header (its length in 4 bytes, little-endian) and the bytes after it. */
  function unpack(buffer) {
    const size = new DataView(buffer).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, size)));
    return { header, offset: 4 + size };
  }

  /** The server's own words for a failed request, or its status. */
  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return "the server answered " + response.status;
  }

  /** A client for the page's server: `token` from the address, `night` the folder's night this tab shows ("": the first). */
  function client(token, night) {
    const cache = new Map();  // "start|seconds|channels|filters" -> Promise of traces, most recently used last

    function request(path, options) {
      const init = Object.assign({}, options || {});
      init.headers = Object.assign({ "X-Review-Token": token }, init.headers || {});
      if (night && path.startsWith("api/") && path !== "api/nights") {
        path += (path.indexOf("?") >= 0 ? "&" : "?") + "night=" + encodeURIComponent(night);
      }
      return fetch(path, init);
    }

    /** The traces of one window ({label, rate, start, samples}), display filters applied by the server. */
    function fetchWindow(start, seconds, channels, filters) {
      const filterText = JSON.stringify(filters || {});
      const key = start + "|" + seconds + "|" + channels.join(",") + "|" + filterText;
      if (cache.has(key)) {
        const hit = cache.get(key);
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      const query = "api/window?start=" + encodeURIComponent(start) + "&seconds=" + seconds +
        "&channels=" + encodeURIComponent(channels.join(",")) + "&filters=" + encodeURIComponent(filterText);
      const promise = request(query).then(async (response) => {
        if (!response.ok) throw new Error(await errorOf(response));
        const buffer = await response.arrayBuffer();
        const { header, offset } = unpack(buffer);
        const total = header.reduce((sum, h) => sum + h.n, 0);
        const samples = new Float32Array(buffer, offset, total);
        let at = 0;
        return header.map((h) => {
          const trace = { label: h.label, rate: h.rate, start: h.start, samples: samples.subarray(at, at + h.n) };
          at += h.n;
          return trace;
        });
      });
      promise.catch(() => cache.delete(key));  // a failed window is asked again next time
      cache.set(key, promise);
      while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value);
      return promise;
    }

    /** The night's spectrogram: {header: {epochs, frequencies...}, image: bytes}; throws the server's reason. */
    async function fetchSpectrogram() {
      const response = await request("api/spectrogram");
      if (!response.ok) throw new Error(await errorOf(response));
      const buffer = await response.arrayBuffer();
      const { header, offset } = unpack(buffer);
      return { header, image: new Uint8Array(buffer, offset) };
    }

    return { request, errorOf, fetchWindow, fetchSpectrogram };
  }

  window.ReviewApi = { client, errorOf };
})();

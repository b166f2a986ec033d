//
// StaticFiles.h
//
// The optional web_root of the Together plugin: a built web client's files served on the
// plugin's listener, so that web_root = ../shared/clients/together-web/dist gives a working chat
// at http://host:8080/. A single-page application: a path that names no file and has no file
// extension (a client-side route such as /channels/abc) gets the root index.html.
//


#ifndef Switchboard_Together_StaticFiles_INCLUDED
#define Switchboard_Together_StaticFiles_INCLUDED


#include "switchboard/Http.h"
#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Together {


class StaticFiles
/// Serves the files below one directory, read-only, for GET and HEAD.
///
/// Rules, in order, for a request path (relative to the plugin's mount, percent-encoded as sent):
///  * the path is percent-decoded; a bad escape, a NUL, a backslash or a ".." segment → 404;
///  * the first segment "api" never reaches a file or the fallback: 404 (unknown API routes stay
///    JSON errors);
///  * the path is resolved with realpath(): a file reached through a symbolic link is served only
///    when its real path is inside the root; anything outside → 404;
///  * a directory serves its index.html, when it has one;
///  * a regular file is served; other kinds (devices, FIFOs, sockets) → 404;
///  * a file larger than MAX_FILE_SIZE (64 MiB) → 404: the host has no streaming and every file
///    is read whole into the response body;
///  * nothing found and no extension in the last segment → the root index.html (SPA fallback);
///    nothing found with an extension (/assets/missing.js) → 404.
/// Every 404 is {"error":"Not found"} with Content-Type application/json; charset=utf-8, as the
/// plugin's other errors; an unreadable file (an I/O error after it was opened) is 500 {"error":
/// "Internal server error"}.
///
/// Answers carry Content-Type by extension (text types with charset=utf-8; unknown:
/// application/octet-stream), X-Content-Type-Options: nosniff, a strong ETag made of the size and
/// the modification time, Last-Modified (RFC 7231 IMF-fixdate) and Cache-Control: files under
/// /assets/ (Vite's content-hashed names) "public, max-age=31536000, immutable", everything else,
/// index.html included, "no-cache". If-None-Match naming the current ETag (or "*") gives 304 with
/// no body. If-Modified-Since is not evaluated: browsers send If-None-Match as well.
///
/// Files are read on every request (no cache in memory), so a rebuilt client is served at once.
/// Thread-safe once open() has returned: serve() is const and may run concurrently on the host's
/// HTTP worker threads. It blocks on file I/O: call it from a route handler (the worker pool),
/// never from an event loop.
{
public:
	static constexpr std::uint64_t MAX_FILE_SIZE = 64ull * 1024 * 1024;
	/// The largest file served, in bytes.

	explicit StaticFiles(std::string root);
	/// root as configured (relative paths are taken from the working directory at open()).

	bool open(std::string& error);
	/// Checks that the root is a readable directory with a readable regular file index.html, and
	/// resolves it to its canonical absolute path. False with a message naming the root otherwise;
	/// serve() then answers 404 to everything.

	const std::string& root() const { return _root; }
	/// The canonical root after a successful open(); before it, the configured one.

	void serve(const HttpRequest& request, HttpResponse& response) const;
	/// Answers a GET or HEAD for request.path, which the caller has made relative to the plugin's
	/// mount. The caller routes other methods; a HEAD gets the full body as well, since the host
	/// drops it and keeps its Content-Length. Reads If-None-Match from the request.

	void serve(std::string_view path, const HttpRequest& request, HttpResponse& response) const;
	/// The same for an explicit path (e.g. a route's raw "*" capture with a leading "/" added),
	/// when request.path still carries the mount prefix.

	static std::string contentType(std::string_view fileName);
	/// The Content-Type for a file name, by its extension (ASCII case ignored).

	static std::string httpDate(std::int64_t unixSeconds);
	/// An RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".

private:
	bool _open = false;
	std::string _root;
	std::string _index;
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_StaticFiles_INCLUDED

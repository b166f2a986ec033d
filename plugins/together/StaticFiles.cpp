//
// StaticFiles.cpp
//
// Paths are checked twice: by name (decoding, NUL, backslash, "..") before the file system sees
// them, then by realpath() against the canonical root, which is what catches symbolic links. The
// file is then opened by its canonical path with O_NOFOLLOW and checked again with fstat(), so a
// link swapped in at the last moment is not followed and a FIFO put in place of a file does not
// block the worker.
//


#include "StaticFiles.h"
#include "CivilTime.h"
#include "switchboard/util/HttpText.h"
#include "HttpRules.h"
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <system_error>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif


namespace Switchboard {
namespace Together {


namespace {


#if !defined(_WIN32)

const char* const IMMUTABLE = "public, max-age=31536000, immutable";
const char* const NO_CACHE = "no-cache";


bool splitPath(std::string_view raw, std::vector<std::string>& segments)
// Percent-decodes the whole path first, so that an encoded "/" (%2F) separates segments like a
// plain one and "..%2f" is seen as "..". Refuses bad escapes, NUL and backslashes; drops empty
// and "." segments; refuses "..".
{
	std::string decoded;
	decoded.reserve(raw.size());
	for (std::size_t i = 0; i < raw.size(); ++i)
	{
		char c = raw[i];
		if (c == '%')
		{
			if (i + 2 >= raw.size())
				return false;
			const int high = HttpText::hexDigitValue(raw[i + 1]);
			const int low = HttpText::hexDigitValue(raw[i + 2]);
			if (high < 0 || low < 0)
				return false;
			c = static_cast<char>(high * 16 + low);
			i += 2;
		}
		if (c == '\0' || c == '\\')
			return false;
		decoded.push_back(c);
	}
	segments.clear();
	std::size_t start = 0;
	while (start <= decoded.size())
	{
		std::size_t end = decoded.find('/', start);
		if (end == std::string::npos)
			end = decoded.size();
		const std::string_view segment(decoded.data() + start, end - start);
		if (segment == "..")
			return false;
		if (!segment.empty() && segment != ".")
			segments.emplace_back(segment);
		start = end + 1;
	}
	return true;
}


bool hasExtension(std::string_view segment)
// "app.js" has one; "abc", ".hidden" and "trailing." do not.
{
	const std::size_t dot = segment.rfind('.');
	return dot != std::string_view::npos && dot > 0 && dot + 1 < segment.size();
}


bool canonical(const std::string& path, std::string& real, int& error)
{
	char* resolved = ::realpath(path.c_str(), nullptr);
	if (resolved == nullptr)
	{
		error = errno;
		return false;
	}
	real = resolved;
	std::free(resolved);
	return true;
}


std::string hex(std::uint64_t value)
{
	static const char DIGITS[] = "0123456789abcdef";
	std::string text;
	do
	{
		text.insert(text.begin(), DIGITS[value & 0xF]);
		value >>= 4;
	} while (value != 0);
	return text;
}


bool etagListed(std::string_view list, const std::string& etag)
// If-None-Match: "*" or a comma-separated list of entity tags, compared weakly (RFC 9110
// 13.1.2), so W/"x" names "x".
{
	std::size_t i = 0;
	while (i < list.size())
	{
		const char c = list[i];
		if (c == ' ' || c == '\t' || c == ',')
		{
			++i;
			continue;
		}
		if (c == '*')
			return true;
		if (list.compare(i, 2, "W/") == 0)
			i += 2;
		if (i >= list.size() || list[i] != '"')
			return false; // malformed: stop looking, serve the file
		const std::size_t close = list.find('"', i + 1);
		if (close == std::string_view::npos)
			return false;
		if (list.substr(i, close - i + 1) == etag)
			return true;
		i = close + 1;
	}
	return false;
}


bool notModified(const HttpRequest& request, const std::string& etag)
{
	for (const auto& header : request.headers)
		if (HttpText::equalsIgnoreCase(header.first, "If-None-Match") && etagListed(header.second, etag))
			return true;
	return false;
}


#endif


void notFound(HttpResponse& response)
{
	jsonError(response, 404, "Not found");
	response.setHeader("X-Content-Type-Options", "nosniff");
}


#if !defined(_WIN32)


bool readAll(int fd, std::uint64_t expected, std::string& body)
{
	body.clear();
	body.reserve(static_cast<std::size_t>(expected));
	char chunk[65536];
	for (;;)
	{
		const ssize_t n = ::read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			return true;
		body.append(chunk, static_cast<std::size_t>(n));
		if (body.size() > StaticFiles::MAX_FILE_SIZE)
			return false; // grew while being read
	}
}


void serveFile(const std::string& path, bool immutable, const HttpRequest& request, HttpResponse& response)
// path is canonical and inside the root.
{
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
	{
		notFound(response);
		return;
	}
	struct stat info;
	if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
	    static_cast<std::uint64_t>(info.st_size) > StaticFiles::MAX_FILE_SIZE)
	{
		::close(fd);
		notFound(response);
		return;
	}
	const std::uint64_t size = static_cast<std::uint64_t>(info.st_size);
	const std::uint64_t mtimeNs = static_cast<std::uint64_t>(info.st_mtim.tv_sec) * 1000000000ull +
	                              static_cast<std::uint64_t>(info.st_mtim.tv_nsec);
	const std::string etag = "\"" + hex(size) + "-" + hex(mtimeNs) + "\"";
	const std::string cacheControl = immutable ? IMMUTABLE : NO_CACHE;
	const std::string lastModified = StaticFiles::httpDate(static_cast<std::int64_t>(info.st_mtim.tv_sec));

	if (notModified(request, etag))
	{
		::close(fd);
		response.status = 304; // headers the caller set (CORS) stay
		response.body.clear();
	}
	else
	{
		std::string body;
		const bool read = readAll(fd, size, body);
		::close(fd);
		if (!read)
		{
			jsonError(response, 500, "Internal server error");
			return;
		}
		response.send(200, StaticFiles::contentType(path), std::move(body));
	}
	response.setHeader("ETag", etag);
	response.setHeader("Last-Modified", lastModified);
	response.setHeader("Cache-Control", cacheControl);
	response.setHeader("X-Content-Type-Options", "nosniff");
}

#endif


} // namespace


StaticFiles::StaticFiles(std::string root):
    _root(std::move(root))
{
}


bool StaticFiles::open(std::string& error)
{
	_open = false;
#if defined(_WIN32)
	// The checks against links and special files below are POSIX; not ported yet.
	error = "web_root '" + _root + "': serving a web client is not supported on Windows yet";
	return false;
#else
	const std::string configured = _root;
	const std::string name = "web_root '" + configured + "'";
	if (configured.empty())
	{
		error = "web_root is empty";
		return false;
	}
	std::string real;
	int code = 0;
	if (!canonical(configured, real, code))
	{
		error = name + ": " + std::system_category().message(code);
		return false;
	}
	struct stat info;
	if (::stat(real.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
	{
		error = name + " is not a directory";
		return false;
	}
	if (::access(real.c_str(), R_OK | X_OK) != 0)
	{
		error = name + " is not readable: " + std::system_category().message(errno);
		return false;
	}
	const std::string index = (real == "/" ? "" : real) + "/index.html";
	std::string indexReal;
	if (!canonical(index, indexReal, code) || ::stat(indexReal.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
	    ::access(indexReal.c_str(), R_OK) != 0)
	{
		error = name + " has no readable index.html";
		return false;
	}
	_root = real;
	_index = indexReal;
	_open = true;
	return true;
#endif
}


void StaticFiles::serve(const HttpRequest& request, HttpResponse& response) const
{
	serve(request.path, request, response);
}


void StaticFiles::serve(std::string_view path, const HttpRequest& request, HttpResponse& response) const
{
#if defined(_WIN32)
	(void)path;
	(void)request;
	notFound(response); // never open there
#else
	std::vector<std::string> segments;
	if (!_open || !splitPath(path, segments) || (!segments.empty() && segments.front() == "api"))
	{
		notFound(response);
		return;
	}
	const std::string base = _root == "/" ? "" : _root;
	std::string candidate = base;
	for (const std::string& segment : segments)
		candidate += "/" + segment;
	if (segments.empty())
		candidate = _root;

	const auto inside = [&](const std::string& real) {
		return real == _root ||
		       (real.size() > base.size() && real.compare(0, base.size(), base) == 0 && real[base.size()] == '/');
	};
	const auto immutable = [&](const std::string& real) {
		return real.compare(0, base.size() + 8, base + "/assets/") == 0;
	};
	const bool fallbackAllowed = segments.empty() || !hasExtension(segments.back());

	std::string real;
	int error = 0;
	if (!canonical(candidate, real, error))
	{
		// Nothing there: a client-side route gets the application, a missing asset a 404.
		if ((error == ENOENT || error == ENOTDIR) && fallbackAllowed)
			serveFile(_index, false, request, response);
		else
			notFound(response);
		return;
	}
	if (!inside(real))
	{
		notFound(response);
		return;
	}
	struct stat info;
	if (::stat(real.c_str(), &info) != 0)
	{
		notFound(response);
		return;
	}
	if (S_ISDIR(info.st_mode))
	{
		std::string index;
		struct stat indexInfo;
		if (canonical(real + (real == "/" ? "" : "/") + "index.html", index, error) && inside(index) &&
		    ::stat(index.c_str(), &indexInfo) == 0 && S_ISREG(indexInfo.st_mode))
			serveFile(index, immutable(index), request, response);
		else if (fallbackAllowed)
			serveFile(_index, false, request, response);
		else
			notFound(response);
		return;
	}
	serveFile(real, immutable(real), request, response);
#endif
}


std::string StaticFiles::contentType(std::string_view fileName)
{
	static const std::pair<const char*, const char*> TYPES[] = {
	    {"html", "text/html; charset=utf-8"},
	    {"htm", "text/html; charset=utf-8"},
	    {"js", "text/javascript; charset=utf-8"},
	    {"mjs", "text/javascript; charset=utf-8"},
	    {"css", "text/css; charset=utf-8"},
	    {"json", "application/json; charset=utf-8"},
	    {"map", "application/json; charset=utf-8"},
	    {"webmanifest", "application/manifest+json; charset=utf-8"},
	    {"txt", "text/plain; charset=utf-8"},
	    {"svg", "image/svg+xml; charset=utf-8"},
	    {"png", "image/png"},
	    {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},
	    {"webp", "image/webp"},
	    {"ico", "image/x-icon"},
	    {"woff", "font/woff"},
	    {"woff2", "font/woff2"},
	    {"ttf", "font/ttf"},
	    {"wasm", "application/wasm"},
	};
	const std::size_t slash = fileName.rfind('/');
	const std::string_view last = slash == std::string_view::npos ? fileName : fileName.substr(slash + 1);
	const std::size_t dot = last.rfind('.');
	if (dot != std::string_view::npos && dot > 0)
	{
		const std::string_view extension = last.substr(dot + 1);
		for (const auto& type : TYPES)
			if (HttpText::equalsIgnoreCase(extension, type.first))
				return type.second;
	}
	return "application/octet-stream";
}


std::string StaticFiles::httpDate(std::int64_t unixSeconds)
{
	// Written out by hand: strftime's names follow the locale.
	static const char* const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char* const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	const CivilTime::UtcTime utc = CivilTime::utcTime(unixSeconds);
	const auto two = [](int value) {
		return std::string(1, static_cast<char>('0' + value / 10)) + static_cast<char>('0' + value % 10);
	};
	return std::string(DAYS[utc.weekday]) + ", " + two(utc.day) + " " + MONTHS[utc.month - 1] + " " +
	       std::to_string(utc.year) + " " + two(utc.hour) + ":" + two(utc.minute) + ":" + two(utc.second) + " GMT";
}


} // namespace Together
} // namespace Switchboard

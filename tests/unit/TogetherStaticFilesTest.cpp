//
// TogetherStaticFilesTest.cpp
//
// The Together plugin's web_root: a temporary directory with real files, a file and a directory
// outside it reached through symbolic links, and every rule of StaticFiles.h: opening the root,
// index.html for / and for directories, the single-page fallback for client-side routes, 404 JSON
// for missing assets, traversal in every spelling, links out of the root, FIFOs and oversized
// files; content types, caching headers, ETag and 304, Last-Modified, HEAD; concurrent serving.
// Then the real web client's build, when it is beside the checkout: / and every asset index.html
// references.
//


#include "ReferenceClients.h"
#include "StaticFiles.h"
#include "TempDir.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>


using Switchboard::HttpRequest;
using Switchboard::HttpResponse;
using Switchboard::Test::TempDir;
using Switchboard::Together::StaticFiles;


namespace {


const std::string INDEX = "<!doctype html><title>app</title>";
const std::string NOT_FOUND = "{\"error\":\"Not found\"}";
const std::string JSON_TYPE = "application/json; charset=utf-8";
const std::string HTML_TYPE = "text/html; charset=utf-8";
const std::string IMMUTABLE = "public, max-age=31536000, immutable";


std::string header(const HttpResponse& response, const std::string& name)
{
	return std::string(Switchboard::HttpText::findHeader(response.headers, name));
}


bool hasHeader(const HttpResponse& response, const std::string& name)
{
	for (const auto& h : response.headers)
		if (Switchboard::HttpText::equalsIgnoreCase(h.first, name))
			return true;
	return false;
}


std::string realPath(const std::string& path)
{
	char* resolved = ::realpath(path.c_str(), nullptr);
	CPPUNIT_ASSERT_MESSAGE("realpath " + path, resolved != nullptr);
	std::string result(resolved);
	std::free(resolved);
	return result;
}


void makeLink(const std::string& target, const std::string& linkPath)
{
	CPPUNIT_ASSERT_MESSAGE("symlink " + linkPath, ::symlink(target.c_str(), linkPath.c_str()) == 0);
}


bool isFile(const std::string& path)
{
	struct stat info;
	return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}


std::string readWhole(const std::string& path)
{
	std::string text;
	const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
	CPPUNIT_ASSERT_MESSAGE("open " + path, fd >= 0);
	char chunk[65536];
	ssize_t n;
	while ((n = ::read(fd, chunk, sizeof(chunk))) > 0)
		text.append(chunk, static_cast<std::size_t>(n));
	::close(fd);
	return text;
}


class Site
/// A temporary tree: <tmp>/root is the web root; <tmp>/secret.txt, <tmp>/secret.js and
/// <tmp>/outside/ lie beside it.
{
public:
	Site():
	    tmp("together-static")
	{
		tmp.writeFile("secret.txt", "SECRET");
		tmp.writeFile("secret.js", "SECRET");
		tmp.writeFile("outside/file.txt", "SECRET");
		tmp.writeFile("root/index.html", INDEX);
		root = tmp.path() + "/root";
	}

	std::string write(const std::string& relative, const std::string& text)
	{
		return tmp.writeFile("root/" + relative, text);
	}

	StaticFiles& open()
	{
		files.reset(new StaticFiles(root));
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, files->open(error));
		return *files;
	}

	HttpResponse get(const std::string& path, const Switchboard::HeaderList& headers = {},
	                 const std::string& method = "GET")
	{
		HttpRequest request;
		request.method = method;
		request.path = path;
		request.headers = headers;
		HttpResponse response;
		files->serve(request, response);
		return response;
	}

	TempDir tmp;
	std::string root;
	std::unique_ptr<StaticFiles> files;
};


void assertNotFound(const HttpResponse& response, const std::string& path)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 404, response.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, NOT_FOUND, response.body);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, JSON_TYPE, header(response, "Content-Type"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("nosniff"), header(response, "X-Content-Type-Options"));
}


void assertServed(const HttpResponse& response, const std::string& path, const std::string& body,
                  const std::string& type)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, 200, response.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, body, response.body);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, type, header(response, "Content-Type"));
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("nosniff"), header(response, "X-Content-Type-Options"));
}


std::string clientDist()
/// The reference web client's build, or "" when this checkout has none beside it.
{
	const std::string dist = Switchboard::Test::referenceClientsDir() + "/together-web/dist";
	return isFile(dist + "/index.html") ? dist : std::string();
}


std::vector<std::string> localReferences(const std::string& html)
/// The values of src="/..." and href="/..." in a page: what a browser loads from the same origin.
{
	std::vector<std::string> found;
	for (const std::string attribute : {"src=\"", "href=\""})
	{
		std::size_t at = 0;
		while ((at = html.find(attribute, at)) != std::string::npos)
		{
			at += attribute.size();
			const std::size_t end = html.find('"', at);
			if (end == std::string::npos)
				break;
			const std::string value = html.substr(at, end - at);
			if (value.size() > 1 && value[0] == '/' && value[1] != '/')
				found.push_back(value);
			at = end;
		}
	}
	return found;
}


} // namespace


class TogetherStaticFilesTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherStaticFilesTest);
	CPPUNIT_TEST(testOpen);
	CPPUNIT_TEST(testIndexAndDirectories);
	CPPUNIT_TEST(testSpaFallback);
	CPPUNIT_TEST(testApiPathsNeverFallBack);
	CPPUNIT_TEST(testContentTypes);
	CPPUNIT_TEST(testCaching);
	CPPUNIT_TEST(testEtagAndNotModified);
	CPPUNIT_TEST(testLastModified);
	CPPUNIT_TEST(testHead);
	CPPUNIT_TEST(testPercentDecoding);
	CPPUNIT_TEST(testTraversal);
	CPPUNIT_TEST(testSymbolicLinks);
	CPPUNIT_TEST(testSpecialFiles);
	CPPUNIT_TEST(testSizeLimit);
	CPPUNIT_TEST(testExplicitPath);
	CPPUNIT_TEST(testConcurrentServing);
	CPPUNIT_TEST(testRealWebClient);
	CPPUNIT_TEST_SUITE_END();

public:
	void testOpen()
	{
		TempDir tmp("together-static");
		std::string error;

		StaticFiles missing(tmp.path() + "/nope");
		CPPUNIT_ASSERT(!missing.open(error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("/nope") != std::string::npos);
		HttpRequest request;
		request.method = "GET";
		request.path = "/";
		HttpResponse response;
		missing.serve(request, response); // never opened: nothing is served
		assertNotFound(response, "/ before open");

		const std::string file = tmp.writeFile("file", "x");
		StaticFiles notDirectory(file);
		CPPUNIT_ASSERT(!notDirectory.open(error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("not a directory") != std::string::npos);

		tmp.makeDirectory("empty");
		StaticFiles noIndex(tmp.path() + "/empty");
		CPPUNIT_ASSERT(!noIndex.open(error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("index.html") != std::string::npos);

		tmp.makeDirectory("indexdir/index.html");
		StaticFiles indexIsDirectory(tmp.path() + "/indexdir");
		CPPUNIT_ASSERT(!indexIsDirectory.open(error));

		StaticFiles empty("");
		CPPUNIT_ASSERT(!empty.open(error));

		// A root given with "." and "..", and through a link, is resolved to its canonical path.
		tmp.writeFile("site/index.html", INDEX);
		StaticFiles dotted(tmp.path() + "/empty/../site/.");
		CPPUNIT_ASSERT_MESSAGE(error, dotted.open(error));
		CPPUNIT_ASSERT_EQUAL(realPath(tmp.path() + "/site"), dotted.root());
		makeLink(tmp.path() + "/site", tmp.path() + "/sitelink");
		StaticFiles linked(tmp.path() + "/sitelink");
		CPPUNIT_ASSERT_MESSAGE(error, linked.open(error));
		CPPUNIT_ASSERT_EQUAL(realPath(tmp.path() + "/site"), linked.root());
		linked.serve(request, response);
		assertServed(response, "/ through a linked root", INDEX, HTML_TYPE);
	}

	void testIndexAndDirectories()
	{
		Site site;
		site.write("docs/index.html", "<p>docs</p>");
		site.write("docs/guide.txt", "guide");
		site.tmp.makeDirectory("root/bare");
		site.open();

		for (const std::string path : {"/", "", "/index.html", "//", "/./", "/./index.html", "//index.html"})
		{
			const HttpResponse response = site.get(path);
			assertServed(response, path, INDEX, HTML_TYPE);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("no-cache"), header(response, "Cache-Control"));
		}
		for (const std::string path : {"/docs", "/docs/", "/docs/index.html", "/docs/./"})
			assertServed(site.get(path), path, "<p>docs</p>", HTML_TYPE);
		assertServed(site.get("/docs/guide.txt"), "/docs/guide.txt", "guide", "text/plain; charset=utf-8");
		// A directory without index.html is not listed: it is a client-side route like any other.
		assertServed(site.get("/bare"), "/bare", INDEX, HTML_TYPE);
		assertServed(site.get("/bare/"), "/bare/", INDEX, HTML_TYPE);
	}

	void testSpaFallback()
	{
		Site site;
		site.write("assets/app-1a2b3c.js", "js");
		site.write("LICENSE", "licence text");
		site.open();

		// Client-side routes: no such file and no extension in the last segment.
		for (const std::string path : {"/channels/abc", "/channels/abc/", "/login", "/servers/1234/channels/5678",
		                               "/assets/nothing", "/.hidden", "/trailing.", "/user/alice.smith/x"})
		{
			const HttpResponse response = site.get(path);
			assertServed(response, path, INDEX, HTML_TYPE);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("no-cache"), header(response, "Cache-Control"));
			CPPUNIT_ASSERT_MESSAGE(path, hasHeader(response, "ETag"));
		}
		// Missing files with an extension are 404, wherever they are.
		for (const std::string path : {"/assets/missing.js", "/missing.png", "/channels/abc.json", "/favicon.ico",
		                               "/assets/app-1a2b3c.js/more.js", "/index.html/x.css"})
			assertNotFound(site.get(path), path);
		// An existing file without an extension is served as itself.
		assertServed(site.get("/LICENSE"), "/LICENSE", "licence text", "application/octet-stream");
		// Below a file nothing exists (ENOTDIR): a route without an extension gets the application.
		assertServed(site.get("/LICENSE/route"), "/LICENSE/route", INDEX, HTML_TYPE);
	}

	void testApiPathsNeverFallBack()
	{
		Site site;
		site.write("apidocs/index.html", "<p>api docs</p>");
		site.open();
		for (const std::string path : {"/api", "/api/", "/api/nope", "/api/servers/abc", "/api/index.html", "//api/x"})
			assertNotFound(site.get(path), path);
		assertServed(site.get("/apidocs/"), "/apidocs/", "<p>api docs</p>", HTML_TYPE);
		assertServed(site.get("/apis"), "/apis", INDEX, HTML_TYPE);
	}

	void testContentTypes()
	{
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"page.html", "text/html; charset=utf-8"},
		    {"app.js", "text/javascript; charset=utf-8"},
		    {"module.mjs", "text/javascript; charset=utf-8"},
		    {"style.css", "text/css; charset=utf-8"},
		    {"data.json", "application/json; charset=utf-8"},
		    {"logo.svg", "image/svg+xml; charset=utf-8"},
		    {"image.png", "image/png"},
		    {"photo.jpg", "image/jpeg"},
		    {"photo.jpeg", "image/jpeg"},
		    {"anim.gif", "image/gif"},
		    {"pic.webp", "image/webp"},
		    {"favicon.ico", "image/x-icon"},
		    {"font.woff", "font/woff"},
		    {"font.woff2", "font/woff2"},
		    {"font.ttf", "font/ttf"},
		    {"notes.txt", "text/plain; charset=utf-8"},
		    {"app.js.map", "application/json; charset=utf-8"},
		    {"module.wasm", "application/wasm"},
		    {"site.webmanifest", "application/manifest+json; charset=utf-8"},
		    {"UPPER.PNG", "image/png"},
		    {"Mixed.Css", "text/css; charset=utf-8"},
		    {"archive.tar.gz", "application/octet-stream"},
		    {"blob.bin", "application/octet-stream"},
		};
		Site site;
		for (const auto& c : cases)
			site.write("files/" + c.first, "content of " + c.first);
		site.open();
		for (const auto& c : cases)
		{
			assertServed(site.get("/files/" + c.first), c.first, "content of " + c.first, c.second);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(c.first, c.second, StaticFiles::contentType("/x/" + c.first));
		}
		CPPUNIT_ASSERT_EQUAL(std::string("application/octet-stream"), StaticFiles::contentType("README"));
		CPPUNIT_ASSERT_EQUAL(std::string("application/octet-stream"), StaticFiles::contentType(".js"));
		CPPUNIT_ASSERT_EQUAL(std::string("application/octet-stream"), StaticFiles::contentType("dir.js/file"));
	}

	void testCaching()
	{
		Site site;
		site.write("assets/index-BGVm6Yl9.js", "js");
		site.write("assets/fonts/inter-abc.woff2", "font");
		site.write("together.svg", "<svg/>");
		site.write("assetsx/file.js", "js");
		site.open();
		for (const std::string path : {"/assets/index-BGVm6Yl9.js", "/assets/fonts/inter-abc.woff2",
		                               "/assets//index-BGVm6Yl9.js", "/./assets/index-BGVm6Yl9.js"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string(IMMUTABLE), header(site.get(path), "Cache-Control"));
		for (const std::string path :
		     {"/", "/index.html", "/together.svg", "/assetsx/file.js", "/assets", "/assets/route"})
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string("no-cache"), header(site.get(path), "Cache-Control"));
	}

	void testEtagAndNotModified()
	{
		Site site;
		const std::string file = site.write("assets/app.js", "console.log(1)");
		site.open();
		const HttpResponse first = site.get("/assets/app.js");
		const std::string etag = header(first, "ETag");
		// Strong (no W/) and quoted.
		CPPUNIT_ASSERT_MESSAGE(etag, etag.size() > 2 && etag.front() == '"' && etag.back() == '"');
		CPPUNIT_ASSERT_EQUAL(etag.size() - 1, etag.find('"', 1));
		CPPUNIT_ASSERT_EQUAL(etag, header(site.get("/assets/app.js"), "ETag")); // stable
		CPPUNIT_ASSERT(etag != header(site.get("/"), "ETag"));

		for (const std::string& condition :
		     std::vector<std::string>{etag, "W/" + etag, "\"other\", " + etag, "\"a\",W/" + etag + " ", "*"})
		{
			const HttpResponse response = site.get("/assets/app.js", {{"If-None-Match", condition}});
			CPPUNIT_ASSERT_EQUAL_MESSAGE(condition, 304, response.status);
			CPPUNIT_ASSERT_MESSAGE(condition, response.body.empty());
			CPPUNIT_ASSERT_EQUAL_MESSAGE(condition, etag, header(response, "ETag"));
			CPPUNIT_ASSERT_EQUAL_MESSAGE(condition, std::string(IMMUTABLE), header(response, "Cache-Control"));
			CPPUNIT_ASSERT_MESSAGE(condition, hasHeader(response, "Last-Modified"));
		}
		// The header name in any case, and a second If-None-Match header.
		CPPUNIT_ASSERT_EQUAL(304, site.get("/assets/app.js", {{"if-none-match", etag}}).status);
		CPPUNIT_ASSERT_EQUAL(304,
		                     site.get("/assets/app.js", {{"If-None-Match", "\"x\""}, {"If-None-Match", etag}}).status);

		for (const std::string& condition :
		     {std::string("\"other\""), etag.substr(1), std::string("garbage"), std::string(""), "\"" + etag + "\""})
		{
			const HttpResponse response = site.get("/assets/app.js", {{"If-None-Match", condition}});
			assertServed(response, "If-None-Match: " + condition, "console.log(1)", "text/javascript; charset=utf-8");
		}

		// The SPA fallback shares index.html's tag and honours it.
		const std::string indexTag = header(site.get("/index.html"), "ETag");
		CPPUNIT_ASSERT_EQUAL(indexTag, header(site.get("/channels/abc"), "ETag"));
		CPPUNIT_ASSERT_EQUAL(304, site.get("/channels/abc", {{"If-None-Match", indexTag}}).status);

		// A changed file has a new tag; the old one no longer matches.
		site.write("assets/app.js", "console.log(22)");
		const HttpResponse changed = site.get("/assets/app.js", {{"If-None-Match", etag}});
		assertServed(changed, "changed", "console.log(22)", "text/javascript; charset=utf-8");
		CPPUNIT_ASSERT(header(changed, "ETag") != etag);
		// Same size, other modification time: a new tag as well.
		const struct timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
		const std::string before = header(site.get("/assets/app.js"), "ETag");
		CPPUNIT_ASSERT(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
		CPPUNIT_ASSERT(header(site.get("/assets/app.js"), "ETag") != before);
		// A 304 keeps headers the caller set first (CORS).
		HttpRequest request;
		request.method = "GET";
		request.path = "/assets/app.js";
		request.headers = {{"If-None-Match", "*"}};
		HttpResponse response;
		response.setHeader("Access-Control-Allow-Origin", "*");
		site.files->serve(request, response);
		CPPUNIT_ASSERT_EQUAL(304, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("*"), header(response, "Access-Control-Allow-Origin"));
	}

	void testLastModified()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("Thu, 01 Jan 1970 00:00:00 GMT"), StaticFiles::httpDate(0));
		CPPUNIT_ASSERT_EQUAL(std::string("Sun, 06 Nov 1994 08:49:37 GMT"), StaticFiles::httpDate(784111777));
		CPPUNIT_ASSERT_EQUAL(std::string("Tue, 29 Feb 2028 23:59:59 GMT"), StaticFiles::httpDate(1835481599));

		Site site;
		const std::string file = site.write("notes.txt", "n");
		const struct timespec times[2] = {{0, UTIME_OMIT}, {784111777, 500000000}};
		CPPUNIT_ASSERT(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
		site.open();
		CPPUNIT_ASSERT_EQUAL(std::string("Sun, 06 Nov 1994 08:49:37 GMT"),
		                     header(site.get("/notes.txt"), "Last-Modified"));
	}

	void testHead()
	{
		// The host drops a HEAD answer's body but keeps its Content-Length: the body is the GET's.
		Site site;
		site.write("assets/app.css", "body{}");
		site.open();
		for (const std::string path : {"/", "/assets/app.css", "/channels/abc", "/assets/missing.css"})
		{
			const HttpResponse get = site.get(path);
			const HttpResponse head = site.get(path, {}, "HEAD");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, get.status, head.status);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, get.body, head.body);
			CPPUNIT_ASSERT_MESSAGE(path, get.headers == head.headers);
		}
		const HttpResponse conditional =
		    site.get("/assets/app.css", {{"If-None-Match", header(site.get("/assets/app.css"), "ETag")}}, "HEAD");
		CPPUNIT_ASSERT_EQUAL(304, conditional.status);
		CPPUNIT_ASSERT(conditional.body.empty());
	}

	void testPercentDecoding()
	{
		Site site;
		site.write("with space.txt", "space");
		site.write("caf\xc3\xa9.txt", "accent");
		site.write("plus+sign.txt", "plus");
		site.write("pct%41.txt", "literal percent");
		site.write("assets/a.js", "a");
		site.open();
		assertServed(site.get("/with%20space.txt"), "%20", "space", "text/plain; charset=utf-8");
		assertServed(site.get("/caf%C3%A9.txt"), "%C3%A9", "accent", "text/plain; charset=utf-8");
		assertServed(site.get("/caf%c3%a9.txt"), "%c3%a9", "accent", "text/plain; charset=utf-8");
		assertServed(site.get("/plus+sign.txt"), "+ stays", "plus", "text/plain; charset=utf-8");
		assertServed(site.get("/pct%2541.txt"), "%25 once", "literal percent", "text/plain; charset=utf-8");
		assertServed(site.get("/%61ssets/%61.js"), "%61", "a", "text/javascript; charset=utf-8");
		assertServed(site.get("/assets%2Fa.js"), "%2F separates", "a", "text/javascript; charset=utf-8");
		CPPUNIT_ASSERT_EQUAL(std::string(IMMUTABLE), header(site.get("/assets%2fa.js"), "Cache-Control"));
		// Bad escapes are refused, with or without an extension.
		for (const std::string path : {"/%", "/%2", "/%zz", "/a%g1.txt", "/route%", "/x%2", "/%%41"})
			assertNotFound(site.get(path), path);
	}

	void testTraversal()
	{
		Site site;
		site.write("assets/app.js", "app");
		site.open();
		const std::vector<std::string> attempts = {
		    "/../secret.txt",
		    "/../etc/passwd",
		    "/..",
		    "/../",
		    "..",
		    "../secret.txt",
		    "/assets/../../secret.txt",
		    "/assets/../index.html", // ".." is refused even when it would stay inside
		    "/%2e%2e/secret.txt",
		    "/%2E%2E/secret.txt",
		    "/%2e%2e",
		    "/%2e./secret.txt",
		    "/.%2e/secret.txt",
		    "/%2e%2e/x",
		    "/assets/..%2f..%2fsecret.txt",
		    "/assets/..%2F..%2Fsecret.txt",
		    "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
		    "/assets/..%2f..%2fsecret",
		    "/%2e%2e%2fsecret.js",
		    "/%252e%252e/secret.txt" /* decoded once: "%2e%2e", a name that does not exist */,
		    "/index.html%00.js",
		    "/index.html%00",
		    "/%00",
		    "/assets/app.js%00",
		    std::string("/index.html\0.js", 15),
		    "/..\\secret.txt",
		    "/assets\\..\\..\\secret.txt",
		    "/%5c..%5csecret.txt",
		    "/%5C..%5Csecret",
		    "/assets/%5capp.js",
		    "/a/b/c/../../../../secret.txt",
		    "/./../secret.txt",
		};
		for (const std::string& path : attempts)
		{
			const HttpResponse response = site.get(path);
			assertNotFound(response, path);
			CPPUNIT_ASSERT_MESSAGE(path, response.body.find("SECRET") == std::string::npos);
		}
	}

	void testSymbolicLinks()
	{
		Site site;
		site.write("real.txt", "real");
		site.write("assets/real.js", "real js");
		site.tmp.makeDirectory("root/sub");
		makeLink("../secret.txt", site.root + "/out.txt");                // a relative link out
		makeLink(site.tmp.path() + "/secret.txt", site.root + "/outabs"); // an absolute one, no extension
		makeLink("../outside", site.root + "/outdir");                    // a directory out
		makeLink("../../secret.js", site.root + "/assets/link.js");
		makeLink("/etc", site.root + "/etc");
		makeLink("real.txt", site.root + "/alias.txt");           // inside: fine
		makeLink("../assets", site.root + "/sub/assets");         // a directory inside: fine
		makeLink("/nonexistent/target", site.root + "/dangling"); // nowhere, no extension
		makeLink("/nonexistent/target.js", site.root + "/dangling.js");
		makeLink(site.root, site.root + "/self"); // a loop back to the root: inside
		makeLink("loop2", site.root + "/loop1");
		makeLink("loop1", site.root + "/loop2");
		site.open();

		for (const std::string path :
		     {"/out.txt", "/outabs", "/outdir", "/outdir/", "/outdir/file.txt", "/assets/link.js", "/etc",
		      "/etc/passwd", "/etc/hostname", "/loop1", "/loop2/x", "/dangling.js"})
		{
			const HttpResponse response = site.get(path);
			assertNotFound(response, path);
			CPPUNIT_ASSERT_MESSAGE(path, response.body.find("SECRET") == std::string::npos);
		}
		assertServed(site.get("/alias.txt"), "/alias.txt", "real", "text/plain; charset=utf-8");
		assertServed(site.get("/sub/assets/real.js"), "/sub/assets/real.js", "real js",
		             "text/javascript; charset=utf-8");
		// Caching follows where the file really is: under /assets/.
		CPPUNIT_ASSERT_EQUAL(std::string(IMMUTABLE), header(site.get("/sub/assets/real.js"), "Cache-Control"));
		assertServed(site.get("/self/alias.txt"), "/self/alias.txt", "real", "text/plain; charset=utf-8");
		assertServed(site.get("/self"), "/self", INDEX, HTML_TYPE);
		// A dangling link is a missing file: a route without an extension gets the application.
		assertServed(site.get("/dangling"), "/dangling", INDEX, HTML_TYPE);
	}

	void testSpecialFiles()
	{
		Site site;
		CPPUNIT_ASSERT(::mkfifo((site.root + "/pipe").c_str(), 0644) == 0);
		CPPUNIT_ASSERT(::mkfifo((site.root + "/pipe.js").c_str(), 0644) == 0);
		const std::string locked = site.write("locked.txt", "locked");
		CPPUNIT_ASSERT(::chmod(locked.c_str(), 0) == 0);
		makeLink("/dev/zero", site.root + "/zero.bin");
		site.open();
		// A FIFO is neither served nor waited on (no writer would ever come).
		assertNotFound(site.get("/pipe"), "/pipe");
		assertNotFound(site.get("/pipe.js"), "/pipe.js");
		assertNotFound(site.get("/zero.bin"), "/zero.bin");
		if (::geteuid() != 0) // root reads a mode-0 file anyway
			assertNotFound(site.get("/locked.txt"), "/locked.txt");
	}

	void testSizeLimit()
	{
		Site site;
		const std::string atLimit = site.write("assets/at-limit.wasm", "");
		const std::string over = site.write("assets/over.wasm", "");
		CPPUNIT_ASSERT(::truncate(atLimit.c_str(), static_cast<off_t>(StaticFiles::MAX_FILE_SIZE)) == 0);
		CPPUNIT_ASSERT(::truncate(over.c_str(), static_cast<off_t>(StaticFiles::MAX_FILE_SIZE + 1)) == 0);
		site.open();
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(64) * 1024 * 1024, StaticFiles::MAX_FILE_SIZE);
		const HttpResponse served = site.get("/assets/at-limit.wasm");
		CPPUNIT_ASSERT_EQUAL(200, served.status);
		CPPUNIT_ASSERT_EQUAL(static_cast<std::size_t>(StaticFiles::MAX_FILE_SIZE), served.body.size());
		CPPUNIT_ASSERT_EQUAL(std::string("application/wasm"), header(served, "Content-Type"));
		assertNotFound(site.get("/assets/over.wasm"), "/assets/over.wasm");
	}

	void testExplicitPath()
	{
		// Mounted under a prefix, the caller passes the route's "*" capture instead of request.path.
		Site site;
		site.write("assets/app.js", "app");
		site.open();
		HttpRequest request;
		request.method = "GET";
		request.path = "/chat/assets/app.js";
		HttpResponse response;
		site.files->serve("/assets/app.js", request, response);
		assertServed(response, "explicit", "app", "text/javascript; charset=utf-8");
		CPPUNIT_ASSERT_EQUAL(std::string(IMMUTABLE), header(response, "Cache-Control"));
		response = HttpResponse();
		site.files->serve("assets/app.js", request, response); // without the leading "/"
		assertServed(response, "relative", "app", "text/javascript; charset=utf-8");
	}

	void testConcurrentServing()
	{
		Site site;
		std::string big(200000, 'x');
		for (std::size_t i = 0; i < big.size(); i += 97)
			big[i] = static_cast<char>('a' + i % 26);
		site.write("assets/big.js", big);
		site.write("small.css", "s{}");
		site.open();
		std::atomic<int> failures{0};
		std::vector<std::thread> threads;
		for (int t = 0; t < 8; ++t)
			threads.emplace_back([&, t] {
				for (int i = 0; i < 200; ++i)
				{
					const std::string path = (i + t) % 3 == 0   ? "/assets/big.js"
					                         : (i + t) % 3 == 1 ? "/small.css"
					                                            : "/channels/" + std::to_string(i);
					const HttpResponse response = site.get(path);
					const std::string& expected = (i + t) % 3 == 0 ? big : (i + t) % 3 == 1 ? "s{}" : INDEX;
					if (response.status != 200 || response.body != expected)
						++failures;
				}
			});
		for (std::thread& thread : threads)
			thread.join();
		CPPUNIT_ASSERT_EQUAL(0, failures.load());
	}

	void testRealWebClient()
	{
		const std::string dist = clientDist();
		if (dist.empty())
		{
			std::cout << "\nTogetherStaticFilesTest::testRealWebClient: skipped: no together-web/dist/index.html "
			             "in $SWITCHBOARD_CLIENTS_DIR or ../shared/clients beside the source tree"
			          << std::endl;
			return;
		}
		StaticFiles files(dist);
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, files.open(error));
		const std::string index = readWhole(dist + "/index.html");

		HttpRequest request;
		request.method = "GET";
		request.path = "/";
		HttpResponse response;
		files.serve(request, response);
		assertServed(response, "/", index, HTML_TYPE);
		CPPUNIT_ASSERT_EQUAL(std::string("no-cache"), header(response, "Cache-Control"));

		const std::vector<std::string> references = localReferences(index);
		CPPUNIT_ASSERT_MESSAGE("index.html references no script", !references.empty());
		bool script = false;
		bool style = false;
		for (const std::string& reference : references)
		{
			const std::string path = reference.substr(0, reference.find_first_of("?#"));
			request.path = path;
			response = HttpResponse();
			files.serve(request, response);
			const std::string type = StaticFiles::contentType(path);
			assertServed(response, path, readWhole(dist + path), type);
			const std::string extension = path.substr(path.rfind('.') + 1);
			if (extension == "js")
			{
				script = true;
				CPPUNIT_ASSERT_EQUAL(std::string("text/javascript; charset=utf-8"), type);
			}
			if (extension == "css")
			{
				style = true;
				CPPUNIT_ASSERT_EQUAL(std::string("text/css; charset=utf-8"), type);
			}
			if (extension == "svg")
				CPPUNIT_ASSERT_EQUAL(std::string("image/svg+xml; charset=utf-8"), type);
			CPPUNIT_ASSERT_EQUAL_MESSAGE(path, std::string(path.rfind("/assets/", 0) == 0 ? IMMUTABLE : "no-cache"),
			                             header(response, "Cache-Control"));
		}
		CPPUNIT_ASSERT(script && style);

		// A client-side route and an unknown API path.
		request.path = "/channels/abc";
		response = HttpResponse();
		files.serve(request, response);
		assertServed(response, "/channels/abc", index, HTML_TYPE);
		request.path = "/api/nope";
		response = HttpResponse();
		files.serve(request, response);
		assertNotFound(response, "/api/nope");
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherStaticFilesTest);

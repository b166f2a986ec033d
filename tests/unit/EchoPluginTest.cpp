//
// EchoPluginTest.cpp
//
// Unit tests of the example echo plugin, loaded from its built module and run in FakeHost (whose
// storage is a real SQLite file), plus tests of FakeHost's own behaviour with a scripted plugin.
//


#include "switchboard/testing/FakeHost.h"
#include "switchboard/SDK.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <dlfcn.h>
#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>


using namespace Switchboard;
using Switchboard::Testing::SqliteTestStorage;


namespace {


class PluginLibrary
/// A plugin module loaded the way the host loads it: dlopen, then the one entry point.
{
public:
	explicit PluginLibrary(const std::string& path)
	{
		_handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
		if (_handle == nullptr)
			throw std::runtime_error("cannot load " + path + ": " + dlerror() + " (is the echo plugin built?)");
		void* symbol = dlsym(_handle, SWITCHBOARD_ENTRY_SYMBOL);
		if (symbol == nullptr)
			throw std::runtime_error(path + " has no " SWITCHBOARD_ENTRY_SYMBOL);
		const PluginDescriptor* (*entry)() = nullptr;
		std::memcpy(&entry, &symbol, sizeof(entry)); // object to function pointer, portably
		_descriptor = entry();
		if (_descriptor == nullptr)
			throw std::runtime_error(path + ": the entry point returned no descriptor");
	}

	~PluginLibrary() { dlclose(_handle); }

	PluginLibrary(const PluginLibrary&) = delete;
	PluginLibrary& operator=(const PluginLibrary&) = delete;

	const PluginDescriptor& descriptor() const { return *_descriptor; }

	std::unique_ptr<Plugin, void (*)(Plugin*)> create() const { return {_descriptor->create(), _descriptor->destroy}; }

private:
	void* _handle = nullptr;
	const PluginDescriptor* _descriptor = nullptr;
};


using PluginPtr = std::unique_ptr<Plugin, void (*)(Plugin*)>;


class TempDir
{
public:
	TempDir()
	{
		char pattern[] = "/tmp/switchboard-echo-test-XXXXXX";
		if (mkdtemp(pattern) == nullptr)
			throw std::runtime_error("mkdtemp failed");
		_path = pattern;
	}

	~TempDir()
	{
		for (const char* suffix : {"", "-journal", "-wal", "-shm"})
			for (const std::string& name : _files)
				unlink((_path + "/" + name + suffix).c_str());
		rmdir(_path.c_str());
	}

	std::string file(const std::string& name)
	{
		_files.push_back(name);
		return _path + "/" + name;
	}

private:
	std::string _path;
	std::vector<std::string> _files;
};


bool loggedError(const FakeHost& host)
{
	for (const std::string& line : host.logLines())
		if (line.rfind("ERROR ", 0) == 0)
			return true;
	return false;
}


std::string logText(const FakeHost& host)
{
	std::string text;
	for (const std::string& line : host.logLines())
		text += line + "\n";
	return text;
}


} // namespace


// ===================================================================================================
// The echo plugin
// ===================================================================================================


class EchoPluginTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(EchoPluginTest);
	CPPUNIT_TEST(testDescriptor);
	CPPUNIT_TEST(testEchoTextAndBinary);
	CPPUNIT_TEST(testGreeting);
	CPPUNIT_TEST(testNoGreetingWhenEmpty);
	CPPUNIT_TEST(testReconfigureGreetingAndMaxNotes);
	CPPUNIT_TEST(testMetrics);
	CPPUNIT_TEST(testBadConfig);
	CPPUNIT_TEST(testInvalidGreetingFailsStart);
	CPPUNIT_TEST(testStartWithoutStorageFails);
	CPPUNIT_TEST(testPersistedCounter);
	CPPUNIT_TEST(testFlushRetriesAfterFailure);
	CPPUNIT_TEST(testNotes);
	CPPUNIT_TEST(testNoteLimits);
	CPPUNIT_TEST(testTrimming);
	CPPUNIT_TEST(testUnknownRoutes);
	CPPUNIT_TEST(testMountPrefix);
	CPPUNIT_TEST(testStopClosesConnections);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override
	{
		_dir = std::make_unique<TempDir>();
		_dbPath = _dir->file("echo.sqlite");
		_library = std::make_unique<PluginLibrary>(std::string(SWITCHBOARD_TEST_PLUGIN_DIR) + "/echo.so");
	}

	void tearDown() override
	{
		_library.reset();
		_dir.reset();
	}

	void testDescriptor()
	{
		const PluginDescriptor& d = _library->descriptor();
		CPPUNIT_ASSERT_EQUAL(static_cast<std::uint32_t>(sizeof(PluginDescriptor)), d.structSize);
		CPPUNIT_ASSERT_EQUAL(ABI_MAJOR, d.abiMajor);
		CPPUNIT_ASSERT_EQUAL(ABI_MINOR, d.abiMinor);
		CPPUNIT_ASSERT_EQUAL(std::string(SWITCHBOARD_BUILD_SIGNATURE), std::string(d.buildSignature));
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard.example.echo"), std::string(d.id));
		CPPUNIT_ASSERT_EQUAL(std::string("echo"), std::string(d.name));
		CPPUNIT_ASSERT_EQUAL(std::string("1.0.0"), std::string(d.version));
		CPPUNIT_ASSERT(d.description != nullptr && std::strlen(d.description) > 0);
		CPPUNIT_ASSERT(d.create != nullptr && d.destroy != nullptr);
		CPPUNIT_ASSERT_EQUAL(std::uint32_t(0), d.reservedFlags);

		CPPUNIT_ASSERT_EQUAL(2u, d.configKeyCount);
		const ConfigKey& greeting = d.configKeys[0];
		CPPUNIT_ASSERT_EQUAL(std::string("greeting"), std::string(greeting.name));
		CPPUNIT_ASSERT(greeting.type == ConfigType::STRING);
		CPPUNIT_ASSERT_EQUAL(std::string(""), std::string(greeting.defaultValue));
		const ConfigKey& maxNotes = d.configKeys[1];
		CPPUNIT_ASSERT_EQUAL(std::string("max_notes"), std::string(maxNotes.name));
		CPPUNIT_ASSERT(maxNotes.type == ConfigType::INTEGER);
		CPPUNIT_ASSERT_EQUAL(std::string("1000"), std::string(maxNotes.defaultValue));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), maxNotes.minimum);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000000), maxNotes.maximum);
	}

	void testEchoTextAndBinary()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);

		ConnectionId c = host.connect("/ws?client=test");
		CPPUNIT_ASSERT(c != 0);
		CPPUNIT_ASSERT(host.takeSent(c).empty()); // no greeting configured

		host.deliver(c, "hello");
		host.deliver(c, "h\xC3\xA9llo \xE2\x9C\x93");
		std::string binary("\x00\xFF\x01\x80 bin", 8);
		host.deliver(c, binary, MessageKind::BINARY);
		host.deliver(c, "", MessageKind::TEXT);

		std::vector<SentMessage> sent = host.takeSent(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), sent.size());
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), sent[0].data);
		CPPUNIT_ASSERT(sent[0].kind == MessageKind::TEXT);
		CPPUNIT_ASSERT_EQUAL(std::string("h\xC3\xA9llo \xE2\x9C\x93"), sent[1].data);
		CPPUNIT_ASSERT(sent[1].kind == MessageKind::TEXT);
		CPPUNIT_ASSERT_EQUAL(binary, sent[2].data);
		CPPUNIT_ASSERT(sent[2].kind == MessageKind::BINARY);
		CPPUNIT_ASSERT_EQUAL(std::string(), sent[3].data);
		CPPUNIT_ASSERT(sent[3].kind == MessageKind::TEXT);
		CPPUNIT_ASSERT(host.isOpen(c));

		host.stop(*plugin);
		CPPUNIT_ASSERT_MESSAGE(logText(host), !loggedError(host));
	}

	void testReconfigureGreetingAndMaxNotes()
	{
		// A reload: the new greeting for connections opened from now on, max_notes from the next
		// note; an open connection keeps what it got; a bad greeting changes nothing.
		FakeHost host("echo");
		configure(host, {{"greeting", "old"}, {"max_notes", "5"}});
		PluginPtr plugin = startPlugin(host);
		ConnectionId before = host.connect("/ws");
		CPPUNIT_ASSERT_EQUAL(std::string("old"), host.takeSent(before).at(0).data);

		ReconfigureResult result =
		    host.reconfigure(*plugin, _library->descriptor(), {{"greeting", "new"}, {"max_notes", "2"}});
		CPPUNIT_ASSERT_MESSAGE(result.message, result.applied);
		ConnectionId after = host.connect("/ws");
		CPPUNIT_ASSERT_EQUAL(std::string("new"), host.takeSent(after).at(0).data);
		CPPUNIT_ASSERT(host.takeSent(before).empty());
		for (int i = 1; i <= 4; ++i)
			CPPUNIT_ASSERT_EQUAL(201, host.request("POST", "/notes", "note " + std::to_string(i)).status);
		const HttpResponse listed = host.request("GET", "/notes");
		CPPUNIT_ASSERT_MESSAGE(listed.body, listed.body.find("note 4") != std::string::npos &&
		                                        listed.body.find("note 3") != std::string::npos &&
		                                        listed.body.find("note 2") == std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::string("old"), host.config().getString("greeting")); // start's values

		result = host.reconfigure(*plugin, _library->descriptor(), {{"greeting", "bad \xFF"}, {"max_notes", "9"}});
		CPPUNIT_ASSERT(!result.applied);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("UTF-8") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::string("new"), host.takeSent(host.connect("/ws")).at(0).data);
		// Refused by the declaration before the plugin is asked.
		result = host.reconfigure(*plugin, _library->descriptor(), {{"max_notes", "0"}});
		CPPUNIT_ASSERT(!result.applied && result.message.find("max_notes") != std::string::npos);
		host.stop(*plugin);
	}

	void testGreeting()
	{
		FakeHost host("echo");
		configure(host, {{"greeting", "welcome \xE2\x98\xBA"}});
		PluginPtr plugin = startPlugin(host);

		ConnectionId c = host.connect("/ws");
		host.deliver(c, "first");
		std::vector<SentMessage> sent = host.takeSent(c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), sent.size());
		CPPUNIT_ASSERT_EQUAL(std::string("welcome \xE2\x98\xBA"), sent[0].data);
		CPPUNIT_ASSERT(sent[0].kind == MessageKind::TEXT);
		CPPUNIT_ASSERT_EQUAL(std::string("first"), sent[1].data);
		// The greeting is not an echo.
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(1), host.counterValue("messages_echoed_total"));
		host.stop(*plugin);
	}

	void testNoGreetingWhenEmpty()
	{
		FakeHost host("echo");
		configure(host, {{"greeting", ""}});
		PluginPtr plugin = startPlugin(host);
		ConnectionId c = host.connect("/ws");
		CPPUNIT_ASSERT(c != 0);
		CPPUNIT_ASSERT(host.takeSent(c).empty());
		host.deliver(c, "x");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), host.takeSent(c).size());
		host.stop(*plugin);
	}

	void testMetrics()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);
		CPPUNIT_ASSERT(host.hasMetric("messages_echoed_total"));
		CPPUNIT_ASSERT(host.hasMetric("connections"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("connections"));

		ConnectionId a = host.connect("/ws");
		ConnectionId b = host.connect("/ws");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), host.gaugeValue("connections"));
		for (int i = 0; i < 3; ++i)
			host.deliver(a, "a");
		for (int i = 0; i < 2; ++i)
			host.deliver(b, "b", MessageKind::BINARY);
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), host.counterValue("messages_echoed_total"));

		// An echo that could not be sent is not counted.
		host.setSendResult(b, SendResult::CLOSED);
		host.deliver(b, "lost");
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), host.counterValue("messages_echoed_total"));

		host.disconnect(a);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), host.gaugeValue("connections"));
		CPPUNIT_ASSERT(!host.deliver(a, "too late"));
		CPPUNIT_ASSERT_EQUAL(std::uint64_t(5), host.counterValue("messages_echoed_total"));

		HttpResponse stats = host.request("GET", "/stats");
		CPPUNIT_ASSERT_EQUAL(200, stats.status);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"echoed\":5,\"connections\":1}"), stats.body);

		host.stop(*plugin);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("connections"));
	}

	void testBadConfig()
	{
		FakeHost host("echo");
		const PluginDescriptor& d = _library->descriptor();

		// The host's wording (ConfigRules), each line prefixed with the section.
		std::string error = host.setConfig(d, {{"max_notes", "0"}});
		CPPUNIT_ASSERT_EQUAL(
		    std::string("[plugin.echo] max_notes: expected an integer between 1 and 1000000, got \"0\""), error);
		error = host.setConfig(d, {{"max_notes", "x"}});
		CPPUNIT_ASSERT_MESSAGE(error, error.find("got \"x\"") != std::string::npos);
		error = host.setConfig(d, {{"max_notes", "1000001"}});
		CPPUNIT_ASSERT_MESSAGE(error, error.find("between 1 and 1000000") != std::string::npos);
		error = host.setConfig(d, {{"max_notes", "5x"}});
		CPPUNIT_ASSERT_MESSAGE(error, error.find("expected an integer") != std::string::npos);
		error = host.setConfig(d, {{"colour", "blue"}});
		CPPUNIT_ASSERT_EQUAL(std::string("[plugin.echo] colour: unknown key (accepts: greeting, max_notes)"), error);
		// None of those changed the configuration.
		CPPUNIT_ASSERT(!host.config().has("max_notes"));

		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(d, {{"max_notes", "1"}}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), host.config().getInt("max_notes"));
		CPPUNIT_ASSERT(host.config().has("greeting")); // the default was filled in
		CPPUNIT_ASSERT_EQUAL(std::string(), host.config().getString("greeting"));
		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(d, {}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1000), host.config().getInt("max_notes"));
		// Keys the host owns in every section are not the plugin's concern.
		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(d, {{"prefix", "/echo"}, {"enabled", "true"}}));
		CPPUNIT_ASSERT(!host.config().has("prefix"));
	}

	void testInvalidGreetingFailsStart()
	{
		FakeHost host("echo");
		configure(host, {{"greeting", "bad \xFF byte"}});
		PluginPtr plugin = _library->create();
		StartResult result = host.start(*plugin);
		CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("UTF-8") != std::string::npos);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.pendingTimers());
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/ws"));
	}

	void testStartWithoutStorageFails()
	{
		FakeHost host("echo");
		CPPUNIT_ASSERT_EQUAL(std::string(), host.setConfig(_library->descriptor(), {}));
		host.setStorage(nullptr);
		PluginPtr plugin = _library->create();
		StartResult result = host.start(*plugin);
		CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find(FakeHost::NO_STORAGE) != std::string::npos);
	}

	void testPersistedCounter()
	{
		// A database file of the test's own, so a second FakeHost can find what the first wrote.
		auto storage = std::make_unique<SqliteTestStorage>(_dbPath);
		{
			FakeHost host("echo");
			configure(host, {});
			host.setStorage(storage.get());
			PluginPtr plugin = startPlugin(host);
			ConnectionId c = host.connect("/ws");
			for (int i = 0; i < 3; ++i)
				host.deliver(c, "m");
			CPPUNIT_ASSERT_EQUAL(std::int64_t(-1), storedEchoed(host));

			host.advance(999);
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.sqliteStorage()->asyncCalls());
			CPPUNIT_ASSERT_EQUAL(std::int64_t(-1), storedEchoed(host));
			host.advance(1);
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), host.sqliteStorage()->asyncCalls()); // written in the background
			CPPUNIT_ASSERT_EQUAL(std::int64_t(3), storedEchoed(host));

			host.advance(5000); // nothing new: nothing written
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), host.sqliteStorage()->asyncCalls());
			CPPUNIT_ASSERT_EQUAL(std::int64_t(3), storedEchoed(host));

			host.deliver(c, "m");
			host.deliver(c, "m");
			host.stop(*plugin); // the rest, synchronously
			CPPUNIT_ASSERT_EQUAL(std::size_t(1), host.sqliteStorage()->asyncCalls());
			CPPUNIT_ASSERT_EQUAL(std::int64_t(5), storedEchoed(host));
			CPPUNIT_ASSERT_MESSAGE(logText(host), !loggedError(host)); // no blocking storage on a loop
		}

		// A new process: a new storage object on the same file, a new host and plugin. The
		// migration must not run again (CREATE TABLE would fail), and the total carries on.
		storage = std::make_unique<SqliteTestStorage>(_dbPath);
		FakeHost host("echo");
		configure(host, {});
		host.setStorage(storage.get());
		PluginPtr plugin = startPlugin(host);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"echoed\":5,\"connections\":0}"), host.request("GET", "/stats").body);
		ConnectionId c = host.connect("/ws");
		host.deliver(c, "again");
		CPPUNIT_ASSERT_EQUAL(std::string("{\"echoed\":6,\"connections\":1}"), host.request("GET", "/stats").body);
		host.advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(6), storedEchoed(host));
		host.stop(*plugin);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(6), storedEchoed(host));
	}

	void testFlushRetriesAfterFailure()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);
		ConnectionId c = host.connect("/ws");
		host.deliver(c, "1");
		host.deliver(c, "2");

		host.sqliteStorage()->setAsyncFailure("disk on fire (injected)");
		host.advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), host.sqliteStorage()->asyncCalls());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(-1), storedEchoed(host));
		CPPUNIT_ASSERT(host.logged("WARNING cannot persist the echoed total"));

		host.sqliteStorage()->setAsyncFailure("");
		host.deliver(c, "3");
		host.advance(1000);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), host.sqliteStorage()->asyncCalls());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), storedEchoed(host)); // the failed delta was retried, once

		host.sqliteStorage()->setAsyncFailure("disk on fire (injected)");
		host.deliver(c, "4");
		host.advance(1000); // fails again: stop() must write it
		host.stop(*plugin);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4), storedEchoed(host));
	}

	void testNotes()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);

		CPPUNIT_ASSERT_EQUAL(std::string("[]"), host.request("GET", "/notes").body);

		std::int64_t firstMs = host.wallMs();
		HttpResponse created = host.request("POST", "/notes", "first");
		CPPUNIT_ASSERT_EQUAL(201, created.status);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":1}"), created.body);
		CPPUNIT_ASSERT_EQUAL(std::string("application/json; charset=utf-8"),
		                     std::string(HttpText::findHeader(created.headers, "content-type")));
		CPPUNIT_ASSERT_EQUAL(std::string("/notes/1"), std::string(HttpText::findHeader(created.headers, "Location")));

		host.advance(5);
		std::int64_t secondMs = host.wallMs();
		std::string tricky = "say \"hi\" \\ back\nline\ttab\r\x01\x1F \xE2\x9C\x93 </script>";
		created = host.request("POST", "/notes", tricky);
		CPPUNIT_ASSERT_EQUAL(201, created.status);
		CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":2}"), created.body);

		std::string first = "{\"id\":1,\"body\":\"first\",\"created_ms\":" + std::to_string(firstMs) + "}";
		std::string second = "{\"id\":2,\"body\":\"say \\\"hi\\\" \\\\ back\\nline\\ttab\\r\\u0001\\u001f \xE2\x9C\x93 "
		                     "</script>\",\"created_ms\":" +
		                     std::to_string(secondMs) + "}";
		HttpResponse list = host.request("GET", "/notes");
		CPPUNIT_ASSERT_EQUAL(200, list.status);
		CPPUNIT_ASSERT_EQUAL("[" + first + "," + second + "]", list.body);

		HttpResponse one = host.request("GET", "/notes/2");
		CPPUNIT_ASSERT_EQUAL(200, one.status);
		CPPUNIT_ASSERT_EQUAL(second, one.body);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/notes/3").status);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/notes/abc").status);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/notes/-1").status);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/notes/1/x").status);

		// GET routes answer HEAD without a body but with the length.
		HttpResponse head = host.request("HEAD", "/notes");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT_EQUAL(std::string(), head.body);
		CPPUNIT_ASSERT_EQUAL(std::to_string(list.body.size()),
		                     std::string(HttpText::findHeader(head.headers, "Content-Length")));

		host.stop(*plugin);
		CPPUNIT_ASSERT_MESSAGE(logText(host), !loggedError(host));
	}

	void testNoteLimits()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);

		HttpResponse largest = host.request("POST", "/notes", std::string(4096, 'n'));
		CPPUNIT_ASSERT_EQUAL(201, largest.status);
		HttpResponse tooLarge = host.request("POST", "/notes", std::string(4097, 'n'));
		CPPUNIT_ASSERT_EQUAL(413, tooLarge.status);
		HttpResponse empty = host.request("POST", "/notes", "");
		CPPUNIT_ASSERT_EQUAL(400, empty.status);
		HttpResponse notText = host.request("POST", "/notes", "\xFF\xFE binary");
		CPPUNIT_ASSERT_EQUAL(400, notText.status);

		QueryResult count = host.storage().execute("SELECT COUNT(*), MAX(LENGTH(body)) FROM notes");
		CPPUNIT_ASSERT(count.ok);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), valueAsInt(count.rows[0][0]));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4096), valueAsInt(count.rows[0][1]));
		host.stop(*plugin);
	}

	void testTrimming()
	{
		FakeHost host("echo");
		configure(host, {{"max_notes", "3"}});
		PluginPtr plugin = startPlugin(host);
		for (int i = 1; i <= 5; ++i)
		{
			HttpResponse r = host.request("POST", "/notes", "n" + std::to_string(i));
			CPPUNIT_ASSERT_EQUAL(201, r.status);
			CPPUNIT_ASSERT_EQUAL("{\"id\":" + std::to_string(i) + "}", r.body); // ids are never reused
		}
		QueryResult rows = host.storage().execute("SELECT id, body FROM notes ORDER BY id");
		CPPUNIT_ASSERT(rows.ok);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), rows.rows.size());
		for (std::size_t i = 0; i < 3; ++i)
		{
			CPPUNIT_ASSERT_EQUAL(std::int64_t(i + 3), valueAsInt(rows.rows[i][0]));
			CPPUNIT_ASSERT_EQUAL("n" + std::to_string(i + 3), valueAsString(rows.rows[i][1]));
		}
		std::string list = host.request("GET", "/notes").body;
		CPPUNIT_ASSERT(list.find("\"n2\"") == std::string::npos);
		CPPUNIT_ASSERT(list.find("\"id\":3,\"body\":\"n3\"") < list.find("\"id\":5,\"body\":\"n5\"")); // newest last
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/notes/1").status);
		host.stop(*plugin);
	}

	void testUnknownRoutes()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);

		HttpResponse missing = host.request("GET", "/nope");
		CPPUNIT_ASSERT_EQUAL(404, missing.status);
		CPPUNIT_ASSERT_EQUAL(std::string("Not Found"), missing.body);
		CPPUNIT_ASSERT_EQUAL(404, host.request("DELETE", "/notes").status); // wrong method
		CPPUNIT_ASSERT_EQUAL(404, host.request("POST", "/stats").status);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/ws").status); // an endpoint is no route
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "//stats").status);
		CPPUNIT_ASSERT_EQUAL(200, host.request("GET", "/stats/").status); // one trailing slash is fine
		CPPUNIT_ASSERT_EQUAL(200, host.request("GET", "/stats?verbose=1").status);

		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/nope"));
		CPPUNIT_ASSERT_EQUAL(400, host.lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(std::string("Bad Request: no WebSocket endpoint at this path"), host.lastRejectBody());
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/ws/")); // endpoint paths are exact
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/WS"));
		CPPUNIT_ASSERT(host.connect("/ws") != 0);
		CPPUNIT_ASSERT_EQUAL(0, host.lastRejectStatus());
		host.stop(*plugin);
	}

	void testMountPrefix()
	{
		FakeHost host("echo", {}, "/echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);

		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/ws"));
		ConnectionId c = host.connect("/echo/ws");
		CPPUNIT_ASSERT(c != 0);
		host.deliver(c, "prefixed");
		CPPUNIT_ASSERT_EQUAL(std::string("prefixed"), host.takeSent(c).at(0).data);

		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/stats").status);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/echoes/stats").status);
		CPPUNIT_ASSERT_EQUAL(200, host.request("GET", "/echo/stats").status);
		HttpResponse created = host.request("POST", "/echo/notes", "hello");
		CPPUNIT_ASSERT_EQUAL(201, created.status);
		CPPUNIT_ASSERT_EQUAL(std::string("/echo/notes/1"),
		                     std::string(HttpText::findHeader(created.headers, "Location")));
		CPPUNIT_ASSERT_EQUAL(200, host.request("GET", "/echo/notes/1").status);
		host.stop(*plugin);
	}

	void testStopClosesConnections()
	{
		FakeHost host("echo");
		configure(host, {});
		PluginPtr plugin = startPlugin(host);
		ConnectionId a = host.connect("/ws");
		ConnectionId b = host.connect("/ws");
		host.disconnect(b, CloseCode::NORMAL);
		CPPUNIT_ASSERT(!host.closeOf(b)); // the peer closed it, not the server

		host.stop(*plugin);
		CPPUNIT_ASSERT(!host.isOpen(a));
		CPPUNIT_ASSERT(host.closeOf(a).has_value());
		CPPUNIT_ASSERT_EQUAL(CloseCode::GOING_AWAY, host.closeOf(a)->first);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), host.gaugeValue("connections"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.pendingTimers());
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/ws"));
		CPPUNIT_ASSERT_EQUAL(503, host.lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(503, host.request("GET", "/stats").status);
	}

private:
	void configure(FakeHost& host, std::map<std::string, std::string> values)
	{
		std::string error = host.setConfig(_library->descriptor(), std::move(values));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("setConfig", std::string(), error);
	}

	PluginPtr startPlugin(FakeHost& host)
	{
		PluginPtr plugin = _library->create();
		CPPUNIT_ASSERT(plugin != nullptr);
		StartResult result = host.start(*plugin);
		CPPUNIT_ASSERT_MESSAGE(result.message, result.status == StartStatus::STARTED);
		return plugin;
	}

	static std::int64_t storedEchoed(FakeHost& host)
	/// The persisted total in the host's database, or -1 if none was written yet.
	{
		QueryResult r = host.storage().execute("SELECT value FROM counters WHERE name = 'echoed'");
		CPPUNIT_ASSERT_MESSAGE(r.error, r.ok);
		return r.rows.empty() ? -1 : valueAsInt(r.rows[0][0]);
	}

	std::unique_ptr<TempDir> _dir;
	std::string _dbPath;
	std::unique_ptr<PluginLibrary> _library;
};


CPPUNIT_TEST_SUITE_REGISTRATION(EchoPluginTest);


// ===================================================================================================
// FakeHost itself, driven by a scripted plugin
// ===================================================================================================


namespace {


class ScriptedPlugin: public Plugin, public WebSocketHandler
/// A plugin whose behaviour each test sets through std::function members, recording what
/// happened to it in events.
{
public:
	std::function<StartResult(Host&, Setup&)> onStart;
	std::function<AcceptDecision(const HttpRequest&)> accept;
	std::function<void(Connection&)> open;
	std::function<void(Connection&, std::string_view, MessageKind)> message;
	std::vector<Migration> schema;
	WebSocketOptions options;
	std::vector<std::string> events;
	Host* host = nullptr;
	Setup* setup = nullptr; ///< kept only to show that registering after start() is refused

	std::vector<Migration> migrations() const override { return schema; }

	StartResult start(Host& h, Setup& s) override
	{
		host = &h;
		setup = &s;
		if (!s.addWebSocket("/ws", *this, options))
			return StartResult::failed("addWebSocket");
		return onStart ? onStart(h, s) : StartResult::started();
	}

	void stopping() override { events.push_back("stopping"); }
	void stop() override { events.push_back("stop"); }

	AcceptDecision onAccept(const HttpRequest& request) override
	{
		return accept ? accept(request) : AcceptDecision::accept();
	}

	void onOpen(Connection& connection, const HttpRequest& request) override
	{
		events.push_back("open " + std::to_string(connection.id()));
		if (open)
			open(connection);
	}

	void onMessage(Connection& connection, std::string_view data, MessageKind kind) override
	{
		events.push_back("message " + std::to_string(connection.id()) + " " + std::string(data));
		if (message)
			message(connection, data, kind);
		events.push_back("message done " + std::to_string(connection.id()));
	}

	void onBackpressure(Connection& connection, bool above) override
	{
		events.push_back("backpressure " + std::to_string(connection.id()) + (above ? " high" : " low"));
	}

	void onClose(Connection& connection, std::uint16_t code, std::string_view reason) override
	{
		events.push_back("close " + std::to_string(connection.id()) + " " + std::to_string(code) + " " +
		                 std::string(reason));
		if (connection.send("late") != SendResult::CLOSED)
			events.push_back("SENT AFTER CLOSE");
	}
};


std::string joined(const std::vector<std::string>& items)
{
	std::string text;
	for (const std::string& item : items)
		text += (text.empty() ? "" : "|") + item;
	return text;
}


} // namespace


class FakeHostTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(FakeHostTest);
	CPPUNIT_TEST(testTimers);
	CPPUNIT_TEST(testDeferredClose);
	CPPUNIT_TEST(testCloseWithoutStatus);
	CPPUNIT_TEST(testDroppedSendCloses);
	CPPUNIT_TEST(testPeerLimitsClose);
	CPPUNIT_TEST(testEndpointTimeoutsAreChecked);
	CPPUNIT_TEST(testEndpointInvalidTextClose);
	CPPUNIT_TEST(testMaxOutputMessagesIsChecked);
	CPPUNIT_TEST(testCallbackExceptions);
	CPPUNIT_TEST(testAcceptRejection);
	CPPUNIT_TEST(testGroups);
	CPPUNIT_TEST(testRoutes);
	CPPUNIT_TEST(testBlockingStorageOnLoopIsReported);
	CPPUNIT_TEST(testOffloadRunOnBackpressure);
	CPPUNIT_TEST(testConfigValidation);
	CPPUNIT_TEST(testMigrations);
	CPPUNIT_TEST(testRandomBytes);
	CPPUNIT_TEST_SUITE_END();

public:
	void testTimers()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		std::vector<std::string> fired;
		auto at = [&](const std::string& name) {
			return [&fired, &host, name] {
				fired.push_back(name + "@" + std::to_string(host.monotonicMs() - FakeHost::START_MONOTONIC_MS));
			};
		};
		TimerId cancelled = 0;
		plugin.onStart = [&](Host& h, Setup& setup) {
			h.after(30, at("A"));
			h.after(10, at("B"));
			h.every(20, at("C"));
			cancelled = h.after(15, at("never"));
			h.after(12, [&] {
				fired.push_back("D@12");
				host.after(3, at("E")); // armed during advance, due within it
			});
			return StartResult::started();
		};
		CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
		CPPUNIT_ASSERT(host.cancel(cancelled));
		CPPUNIT_ASSERT(!host.cancel(cancelled));

		std::int64_t wall = host.wallMs();
		host.advance(60);
		CPPUNIT_ASSERT_EQUAL(std::string("B@10|D@12|E@15|C@20|A@30|C@40|C@60"), joined(fired));
		CPPUNIT_ASSERT_EQUAL(FakeHost::START_MONOTONIC_MS + 60, host.monotonicMs());
		CPPUNIT_ASSERT_EQUAL(wall + 60, host.wallMs());

		// An every() timer that cancels itself from its own callback stops.
		fired.clear();
		TimerId self = 0;
		int runs = 0;
		self = host.every(7, [&] {
			if (++runs == 2)
				CPPUNIT_ASSERT(host.cancel(self));
		});
		host.advance(100);
		CPPUNIT_ASSERT_EQUAL(2, runs);
		CPPUNIT_ASSERT_EQUAL(std::string("C@80|C@100|C@120|C@140|C@160"), joined(fired));

		CPPUNIT_ASSERT_EQUAL(TimerId(0), host.every(0, [] {}));
		CPPUNIT_ASSERT(host.logged("ERROR every()"));
		host.advance(-5); // time never goes back
		CPPUNIT_ASSERT_EQUAL(FakeHost::START_MONOTONIC_MS + 160, host.monotonicMs());

		host.stop(plugin);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), host.pendingTimers());
	}

	void testDeferredClose()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		SendResult afterClose = SendResult::QUEUED;
		plugin.message = [&](Connection& c, std::string_view, MessageKind) {
			c.send("before");
			c.close(4000, "bye");
			c.close(4001, "again"); // idempotent
			afterClose = c.send("after");
		};
		host.start(plugin);
		ConnectionId id = host.connect("/ws");
		host.deliver(id, "x");
		CPPUNIT_ASSERT(afterClose == SendResult::CLOSED);
		CPPUNIT_ASSERT_EQUAL(std::string("open 1|message 1 x|message done 1|close 1 4000 bye"), joined(plugin.events));
		CPPUNIT_ASSERT(!host.isOpen(id));
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(4000), host.closeOf(id)->first);
		CPPUNIT_ASSERT_EQUAL(std::string("bye"), host.closeOf(id)->second);
		std::vector<SentMessage> sent = host.takeSent(id);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), sent.size());
		CPPUNIT_ASSERT_EQUAL(std::string("before"), sent[0].data);

		// Router::close from outside any callback reports at once; onClose only once.
		ConnectionId other = host.connect("/ws");
		host.router().close(other, CloseCode::NORMAL, "done");
		CPPUNIT_ASSERT_EQUAL(std::string("close 2 1000 done"), plugin.events.back());
		host.disconnect(other);
		CPPUNIT_ASSERT_EQUAL(std::string("close 2 1000 done"), plugin.events.back());
		CPPUNIT_ASSERT(!host.runOn(other, [](Connection&) {}));
		CPPUNIT_ASSERT(host.router().send(other, "x") == SendResult::CLOSED);
		CPPUNIT_ASSERT(host.router().send(999, "x") == SendResult::CLOSED);

		host.stop(plugin);
		CPPUNIT_ASSERT_EQUAL(std::string("stopping"), plugin.events[plugin.events.size() - 2]);
		CPPUNIT_ASSERT_EQUAL(std::string("stop"), plugin.events.back());
	}

	void testCloseWithoutStatus()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.open = [](Connection& c) { c.close(CloseCode::NONE); };
		host.start(plugin);
		ConnectionId id = host.connect("/ws");
		CPPUNIT_ASSERT(id != 0);
		CPPUNIT_ASSERT_EQUAL(std::string("open 1|close 1 1005 "), joined(plugin.events));
		CPPUNIT_ASSERT_EQUAL(CloseCode::NONE, host.closeOf(id)->first);
		host.stop(plugin);
	}

	void testDroppedSendCloses()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		std::vector<SendResult> results;
		plugin.message = [&](Connection& c, std::string_view data, MessageKind kind) {
			results.push_back(c.send(data, kind));
			results.push_back(c.send(data, kind));
		};
		host.start(plugin);
		ConnectionId id = host.connect("/ws");
		host.setSendResult(id, SendResult::DROPPED);
		host.deliver(id, "flood");
		CPPUNIT_ASSERT(results.at(0) == SendResult::DROPPED);
		CPPUNIT_ASSERT(results.at(1) == SendResult::CLOSED);
		CPPUNIT_ASSERT_EQUAL(CloseCode::POLICY_VIOLATION, host.closeOf(id)->first);
		CPPUNIT_ASSERT_EQUAL(std::string("close 1 1008 slow consumer"), plugin.events.back());
		CPPUNIT_ASSERT(host.takeSent(id).empty());
		host.stop(plugin);
	}

	void testPeerLimitsClose()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.options.maxMessageSize = 4;
		host.start(plugin);
		ConnectionId big = host.connect("/ws");
		host.deliver(big, "1234");
		host.deliver(big, "12345");
		CPPUNIT_ASSERT_EQUAL(CloseCode::MESSAGE_TOO_BIG, host.closeOf(big)->first);

		ConnectionId bad = host.connect("/ws");
		host.deliver(bad, "\xC3", MessageKind::BINARY); // any bytes are fine as BINARY
		CPPUNIT_ASSERT(host.isOpen(bad));
		host.deliver(bad, "\xC3", MessageKind::TEXT);
		CPPUNIT_ASSERT_EQUAL(CloseCode::INVALID_PAYLOAD, host.closeOf(bad)->first);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("open 1|message 1 1234|message done 1|close 1 1009 Message too big|open "
		                "2|message 2 \xC3|message done 2|close 2 1007 text message is not valid UTF-8"),
		    joined(plugin.events));
		host.stop(plugin);
	}

	void testEndpointTimeoutsAreChecked()
	{
		// The close and send-stall timeouts are refused out of range, as the host refuses them.
		struct Case
		{
			std::int64_t closeTimeoutMs;
			std::int64_t sendStallTimeoutMs;
			const char* refusal; ///< nullptr: accepted
		};
		for (const Case& c : {Case{-1, -1, nullptr}, Case{100, 0, nullptr}, Case{60000, 3600000, nullptr},
		                      Case{99, -1, "closeTimeoutMs 99 is outside 100..60000"},
		                      Case{60001, -1, "closeTimeoutMs 60001 is outside 100..60000"},
		                      Case{-1, -2, "sendStallTimeoutMs -2 is outside 0..3600000"},
		                      Case{-1, 3600001, "sendStallTimeoutMs 3600001 is outside 0..3600000"}})
		{
			FakeHost host;
			ScriptedPlugin plugin;
			plugin.options.closeTimeoutMs = c.closeTimeoutMs;
			plugin.options.sendStallTimeoutMs = c.sendStallTimeoutMs;
			std::string label = std::to_string(c.closeTimeoutMs) + "/" + std::to_string(c.sendStallTimeoutMs);
			StartResult result = host.start(plugin);
			if (c.refusal == nullptr)
			{
				CPPUNIT_ASSERT_MESSAGE(label, result.status == StartStatus::STARTED);
				host.stop(plugin);
			}
			else
			{
				CPPUNIT_ASSERT_MESSAGE(label, result.status == StartStatus::FAILED);
				CPPUNIT_ASSERT_MESSAGE(label, host.logged(c.refusal));
			}
		}
	}

	void testEndpointInvalidTextClose()
	{
		// Invalid UTF-8 text closes with the endpoint's code and reason, as the host does.
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.options.invalidTextCloseCode = 4002;
		plugin.options.invalidTextCloseReason = "Invalid message format";
		host.start(plugin);
		ConnectionId bad = host.connect("/ws");
		host.deliver(bad, "\xC3", MessageKind::TEXT);
		CPPUNIT_ASSERT_EQUAL(std::uint16_t(4002), host.closeOf(bad)->first);
		CPPUNIT_ASSERT_EQUAL(std::string("Invalid message format"), host.closeOf(bad)->second);
		CPPUNIT_ASSERT_EQUAL(std::string("open 1|close 1 4002 Invalid message format"), joined(plugin.events));
		host.stop(plugin);

		// Out of range: refused at addWebSocket.
		FakeHost refusing;
		ScriptedPlugin refused;
		refused.options.invalidTextCloseCode = 1006;
		CPPUNIT_ASSERT(refusing.start(refused).status == StartStatus::FAILED);
		CPPUNIT_ASSERT(refusing.logged("invalidTextCloseCode 1006 cannot be sent"));
	}

	void testMaxOutputMessagesIsChecked()
	{
		// FakeHost has no output queue: the count is only checked, as the host checks it.
		for (std::int64_t count : {std::int64_t(0), std::int64_t(1), std::int64_t(100000000)})
		{
			FakeHost host;
			ScriptedPlugin plugin;
			plugin.options.maxOutputMessages = count;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(count), host.start(plugin).status == StartStatus::STARTED);
			host.stop(plugin);
		}
		for (std::int64_t count : {std::int64_t(-1), std::int64_t(100000001)})
		{
			FakeHost host;
			ScriptedPlugin plugin;
			plugin.options.maxOutputMessages = count;
			CPPUNIT_ASSERT_MESSAGE(std::to_string(count), host.start(plugin).status == StartStatus::FAILED);
			CPPUNIT_ASSERT(host.logged("maxOutputMessages " + std::to_string(count) + " is outside 0..100000000"));
		}
	}

	void testCallbackExceptions()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.message = [](Connection&, std::string_view, MessageKind) { throw std::runtime_error("boom"); };
		plugin.onStart = [](Host&, Setup& setup) {
			setup.addRoute("GET", "/fail", [](const HttpRequest&, HttpResponse& r) {
				r.text(200, "partial");
				throw std::logic_error("route boom");
			});
			return StartResult::started();
		};
		host.start(plugin);
		ConnectionId id = host.connect("/ws");
		host.deliver(id, "x");
		CPPUNIT_ASSERT_EQUAL(CloseCode::INTERNAL_ERROR, host.closeOf(id)->first);
		CPPUNIT_ASSERT(host.logged("ERROR onMessage threw: boom"));

		HttpResponse r = host.request("GET", "/fail");
		CPPUNIT_ASSERT_EQUAL(500, r.status);
		CPPUNIT_ASSERT_EQUAL(std::string("Internal Server Error"), r.body);
		CPPUNIT_ASSERT(host.logged("route GET /fail threw: route boom"));
		host.stop(plugin);

		FakeHost other;
		ScriptedPlugin failing;
		failing.onStart = [](Host&, Setup&) -> StartResult { throw std::runtime_error("cannot"); };
		StartResult result = other.start(failing);
		CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
		CPPUNIT_ASSERT_EQUAL(std::string("start() threw: cannot"), result.message);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), other.connect("/ws")); // nothing stays registered
	}

	void testAcceptRejection()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.accept = [](const HttpRequest& request) {
			if (request.queryParam("token") != "secret" || request.header("Sec-WebSocket-Version") != "13")
				return AcceptDecision::reject(403, "bad token");
			return AcceptDecision::accept();
		};
		host.start(plugin);
		CPPUNIT_ASSERT_EQUAL(ConnectionId(0), host.connect("/ws?token=guess"));
		CPPUNIT_ASSERT_EQUAL(403, host.lastRejectStatus());
		CPPUNIT_ASSERT_EQUAL(std::string("bad token"), host.lastRejectBody());
		CPPUNIT_ASSERT(plugin.events.empty()); // no onOpen, no onClose
		ConnectionId id = host.connect("/ws?token=secret", {{"Origin", "http://x"}}, "10.1.2.3:555");
		CPPUNIT_ASSERT(id != 0);
		CPPUNIT_ASSERT(host.runOn(
		    id, [](Connection& c) { CPPUNIT_ASSERT_EQUAL(std::string("10.1.2.3:555"), c.remoteAddress()); }));
		host.stop(plugin);
		CPPUNIT_ASSERT(!loggedError(host));
	}

	void testGroups()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		plugin.open = [&](Connection& c) { plugin.host->router().join("room", c.id()); };
		host.start(plugin);
		ConnectionId a = host.connect("/ws");
		ConnectionId b = host.connect("/ws");
		ConnectionId c = host.connect("/ws");
		Router& router = host.router();
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), router.groupSize("room"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), router.publish("room", "hi", MessageKind::TEXT, a));
		CPPUNIT_ASSERT(host.takeSent(a).empty());
		CPPUNIT_ASSERT_EQUAL(std::string("hi"), host.takeSent(b).at(0).data);
		CPPUNIT_ASSERT_EQUAL(std::string("hi"), host.takeSent(c).at(0).data);

		host.disconnect(b);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), router.groupSize("room"));
		router.leave("room", c);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), router.groupSize("room"));
		router.join("room", b); // closed: ignored
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), router.groupSize("room"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), router.publish("room", std::string("\x01", 1), MessageKind::BINARY));
		CPPUNIT_ASSERT(host.takeSent(a).at(0).kind == MessageKind::BINARY);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), router.groupSize("nobody"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), router.publish("nobody", "x"));

		CPPUNIT_ASSERT(router.send(c, "direct") == SendResult::QUEUED);
		CPPUNIT_ASSERT_EQUAL(std::string("direct"), host.takeSent(c).at(0).data);
		host.stop(plugin);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), router.groupSize("room"));
	}

	void testRoutes()
	{
		FakeHost host("test", {}, "/api/");
		ScriptedPlugin plugin;
		auto answer = [](std::string text) {
			return [text](const HttpRequest& request, HttpResponse& response) {
				std::string params;
				for (const auto& p : request.pathParams)
					params += " " + p.first + "=" + p.second;
				response.text(200, text + params + " q=" + request.queryParam("q") + " path=" + request.path);
			};
		};
		std::vector<bool> added;
		plugin.onStart = [&](Host& h, Setup& setup) {
			// The first registered route that matches answers: specific routes go first.
			added.push_back(setup.addRoute("GET", "/items/new", answer("new")));
			added.push_back(setup.addRoute("HEAD", "/items/head", answer("head")));
			added.push_back(setup.addRoute("GET", "/items/head", answer("get-head")));
			added.push_back(setup.addRoute("GET", "/items/{id}", answer("item")));
			added.push_back(
			    setup.addRoute("POST", "/items", answer("post"))); // before "/items/*", which matches "/items"
			added.push_back(setup.addRoute("*", "/items/*", answer("any")));
			added.push_back(setup.addRoute("GET", "/Case", answer("case"), RouteOptions{true, false}));
			added.push_back(setup.addRoute("GET", "/items/{other}", answer("clash")));
			added.push_back(setup.addRoute("POST", "/items/*", answer("clash"))); // "*" overlaps every method
			added.push_back(setup.addRoute("GET", "/case", answer("case-sensitive")));
			added.push_back(setup.addRoute("GET", "/items/7", answer("shadowed"))); // registered, never reached
			added.push_back(setup.addRoute("GET", "bad", answer("bad")));
			return StartResult::started();
		};
		host.start(plugin);
		std::string flags;
		for (bool b : added)
			flags += b ? '1' : '0';
		CPPUNIT_ASSERT_EQUAL(std::string("111111100110"), flags);
		CPPUNIT_ASSERT(host.logged("clashes with GET /items/{id}"));
		CPPUNIT_ASSERT(host.logged("clashes with * /items/*"));
		CPPUNIT_ASSERT(!plugin.setup->addRoute("GET", "/late", answer("late")));
		CPPUNIT_ASSERT(host.logged("routes can only be added in start()"));
		CPPUNIT_ASSERT_EQUAL(std::string("/api"), std::string(host.mountPrefix()));

		CPPUNIT_ASSERT_EQUAL(std::string("item id=7 q=a b path=/api/items/7"),
		                     host.request("GET", "/api/items/7?q=a+b").body);
		CPPUNIT_ASSERT_EQUAL(std::string("new q= path=/api/items/new"), host.request("GET", "/api/items/new").body);
		CPPUNIT_ASSERT_EQUAL(std::string("get-head q= path=/api/items/head"),
		                     host.request("GET", "/api/items/head").body);
		CPPUNIT_ASSERT_EQUAL(std::string("any *=7 q= path=/api/items/7"), host.request("DELETE", "/api/items/7").body);
		CPPUNIT_ASSERT_EQUAL(std::string("any *=7/x q= path=/api/items/7/x"),
		                     host.request("GET", "/api/items/7/x").body);
		CPPUNIT_ASSERT_EQUAL(std::string("post q= path=/api/items"), host.request("POST", "/api/items").body);
		// "/items/*" matches "/items" too, with an empty rest; POST /items is another method.
		CPPUNIT_ASSERT_EQUAL(std::string("any *= q= path=/api/items"), host.request("GET", "/api/items").body);
		CPPUNIT_ASSERT_EQUAL(std::string("case q= path=/api/cASE"), host.request("GET", "/api/cASE").body);
		// A case-insensitive route matches the prefix ignoring case too; the others do not.
		CPPUNIT_ASSERT_EQUAL(std::string("case q= path=/API/case"), host.request("GET", "/API/case").body);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/API/items/7").status);
		// "/Case" tolerates no trailing slash, so the next matching route answers.
		CPPUNIT_ASSERT_EQUAL(std::string("case-sensitive q= path=/api/case/"), host.request("GET", "/api/case/").body);
		CPPUNIT_ASSERT_EQUAL(404, host.request("GET", "/api/CASE/").status);
		CPPUNIT_ASSERT_EQUAL(std::string("any *= q= path=/api/items/"), host.request("PUT", "/api/items/").body);
		CPPUNIT_ASSERT_EQUAL(404, host.request("PUT", "/api").status); // the bare prefix is "/": no route for it

		HttpResponse head = host.request("HEAD", "/api/items/7");
		CPPUNIT_ASSERT_EQUAL(200, head.status);
		CPPUNIT_ASSERT(head.body.empty());
		CPPUNIT_ASSERT_EQUAL(std::to_string(host.request("GET", "/api/items/7").body.size()),
		                     std::string(HttpText::findHeader(head.headers, "Content-Length")));
		// The HEAD route registered before the GET route answers HEAD itself.
		CPPUNIT_ASSERT_EQUAL(
		    std::to_string(std::string("head q= path=/api/items/head").size()),
		    std::string(HttpText::findHeader(host.request("HEAD", "/api/items/head").headers, "Content-Length")));
		host.stop(plugin);
	}

	void testBlockingStorageOnLoopIsReported()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		QueryResult fromLoop, fromRoute, fromAsync;
		bool transactionInCompletion = false;
		plugin.message = [&](Connection&, std::string_view, MessageKind) {
			fromLoop = plugin.host->storage().execute("SELECT 1");
			plugin.host->storage().executeAsync("SELECT 2", {}, [&](QueryResult r) {
				fromAsync = r;
				// The completion runs on the loop too: blocking there is reported as well.
				transactionInCompletion = plugin.host->storage().transaction([](Storage&) { return true; });
			});
		};
		plugin.onStart = [&](Host&, Setup& setup) {
			setup.addRoute("GET", "/q", [&](const HttpRequest&, HttpResponse&) {
				fromRoute = plugin.host->storage().execute("SELECT 1");
			});
			return StartResult::started();
		};
		host.start(plugin);
		host.request("GET", "/q");
		CPPUNIT_ASSERT(!loggedError(host));                    // blocking is fine on an HTTP worker
		CPPUNIT_ASSERT_MESSAGE(fromRoute.error, fromRoute.ok); // FakeHost has a database of its own

		ConnectionId id = host.connect("/ws");
		host.deliver(id, "x");
		CPPUNIT_ASSERT(host.logged("ERROR Storage::execute called on an event loop"));
		CPPUNIT_ASSERT(host.logged("ERROR Storage::transaction called on an event loop"));
		CPPUNIT_ASSERT(fromLoop.ok); // reported, but it still runs, as in the host
		CPPUNIT_ASSERT(fromAsync.ok);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), valueAsInt(fromAsync.rows.at(0).at(0)));
		CPPUNIT_ASSERT(transactionInCompletion);
		host.stop(plugin);

		// Without storage every call fails with NO_STORAGE.
		FakeHost bare;
		bare.setStorage(nullptr);
		ScriptedPlugin other;
		bare.start(other);
		CPPUNIT_ASSERT_EQUAL(std::string(FakeHost::NO_STORAGE), bare.storage().execute("SELECT 1").error);
		std::string asyncError;
		bare.storage().executeAsync("SELECT 1", {}, [&](QueryResult r) { asyncError = r.error; });
		CPPUNIT_ASSERT_EQUAL(std::string(FakeHost::NO_STORAGE), asyncError);
		std::string error;
		CPPUNIT_ASSERT(!bare.storage().transaction([](Storage&) { return true; }, &error));
		CPPUNIT_ASSERT_EQUAL(std::string(FakeHost::NO_STORAGE), error);
		CPPUNIT_ASSERT(bare.sqliteStorage() == nullptr);
		bare.stop(other);
	}

	void testOffloadRunOnBackpressure()
	{
		FakeHost host;
		ScriptedPlugin plugin;
		host.start(plugin);
		std::vector<std::string> steps;
		host.offload([&] { steps.push_back("work"); }, [&] { steps.push_back("completion"); });
		host.offload([&] { throw std::runtime_error("work failed"); }, [&] { steps.push_back("completion 2"); });
		CPPUNIT_ASSERT_EQUAL(std::string("work|completion|completion 2"), joined(steps));
		CPPUNIT_ASSERT(host.logged("offload work threw: work failed"));

		ConnectionId id = host.connect("/ws");
		CPPUNIT_ASSERT(host.runOn(id, [](Connection& c) { c.send("from runOn"); }));
		CPPUNIT_ASSERT_EQUAL(std::string("from runOn"), host.takeSent(id).at(0).data);
		host.setBufferedAmount(id, 12345);
		std::size_t buffered = 0;
		host.runOn(id, [&](Connection& c) { buffered = c.bufferedAmount(); });
		CPPUNIT_ASSERT_EQUAL(std::size_t(12345), buffered);
		host.setBackpressure(id, true);
		host.setBackpressure(id, false);
		CPPUNIT_ASSERT_EQUAL(std::string("backpressure 1 high|backpressure 1 low"),
		                     plugin.events[1] + "|" + plugin.events[2]);
		host.stop(plugin);
	}

	void testConfigValidation()
	{
		static const ConfigKey keys[] = {
		    {"name", ConfigType::STRING, nullptr, "required", 0, 0},
		    {"port", ConfigType::INTEGER, "80", "", 1, 65535},
		    {"offset", ConfigType::INTEGER, "-5", "no range when both bounds are 0", 0, 0},
		    {"verbose", ConfigType::BOOLEAN, "no", "", 0, 0},
		    {"ratio", ConfigType::DOUBLE, "0.5", "", 0, 0},
		    {"origins", ConfigType::STRING_LIST, "", "", 0, 0},
		};
		FakeHost host("demo");
		std::string error = host.setConfig(keys, 6, {});
		CPPUNIT_ASSERT_EQUAL(std::string("[plugin.demo] name: missing required key (expected a string)"), error);
		error = host.setConfig(keys, 6, {{"name", "n"}, {"verbose", "maybe"}});
		CPPUNIT_ASSERT_EQUAL(
		    std::string("[plugin.demo] verbose: expected a boolean (true/false, yes/no, on/off, 1/0), got \"maybe\""),
		    error);
		error = host.setConfig(keys, 6, {{"ratio", "half"}, {"port", "65536"}});
		// One line per problem, as the host reports them: invalid values first, then missing keys.
		CPPUNIT_ASSERT_EQUAL(std::string("[plugin.demo] port: expected an integer between 1 and 65535, got \"65536\"\n"
		                                 "[plugin.demo] ratio: expected a number, got \"half\"\n"
		                                 "[plugin.demo] name: missing required key (expected a string)"),
		                     error);
		CPPUNIT_ASSERT(!host.config().has("name"));

		error =
		    host.setConfig(keys, 6, {{"name", "n"}, {"offset", "-99999"}, {"verbose", "ON"}, {"origins", "a, b,,c"}});
		CPPUNIT_ASSERT_EQUAL(std::string(), error);
		const Config& config = host.config();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(80), config.getInt("port"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(-99999), config.getInt("offset"));
		CPPUNIT_ASSERT(config.getBool("verbose"));
		CPPUNIT_ASSERT_EQUAL(0.5, config.getDouble("ratio"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), config.getList("origins").size());

		static const ConfigKey badDefault[] = {{"n", ConfigType::INTEGER, "ten", "", 0, 0}};
		error = host.setConfig(badDefault, 1, {});
		CPPUNIT_ASSERT_EQUAL(std::string("[plugin.demo] invalid configuration declaration: key \"n\" has the "
		                                 "default \"ten\", not an integer"),
		                     error);
		static const ConfigKey hostOwned[] = {{"prefix", ConfigType::STRING, "", "", 0, 0}};
		error = host.setConfig(hostOwned, 1, {});
		CPPUNIT_ASSERT_MESSAGE(error, error.find("owned by the host") != std::string::npos);

		ScriptedPlugin plugin;
		host.start(plugin);
		CPPUNIT_ASSERT(!host.setConfig(keys, 6, {{"name", "other"}}).empty()); // not while running
		host.stop(plugin);
	}

	void testMigrations()
	{
		TempDir dir;
		std::string path = dir.file("migrations.sqlite");
		SqliteTestStorage storage(path);
		{
			FakeHost host;
			host.setStorage(&storage);
			ScriptedPlugin plugin;
			plugin.schema = {
			    {1, "CREATE TABLE t (\"a;b\" TEXT); -- a comment; with a semicolon\n"
			        "CREATE TABLE log (v INTEGER);"
			        "CREATE TRIGGER logged AFTER INSERT ON t BEGIN INSERT INTO log VALUES (1); INSERT INTO log VALUES "
			        "(2); "
			        "END;"
			        "INSERT INTO t VALUES ('x;y'); /* another; one */ INSERT INTO t VALUES ('it''s');"},
			};
			CPPUNIT_ASSERT(host.start(plugin).status == StartStatus::STARTED);
			host.stop(plugin);
		}
		QueryResult rows = storage.execute("SELECT \"a;b\" FROM t ORDER BY rowid");
		CPPUNIT_ASSERT_MESSAGE(rows.error, rows.ok);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), rows.rows.size());
		CPPUNIT_ASSERT_EQUAL(std::string("x;y"), valueAsString(rows.rows[0][0]));
		CPPUNIT_ASSERT_EQUAL(std::string("it's"), valueAsString(rows.rows[1][0]));
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), storage.execute("SELECT v FROM log").rows.size()); // the trigger ran
		{
			// Version 1 is not applied again; version 2 is.
			FakeHost host;
			host.setStorage(&storage);
			ScriptedPlugin plugin;
			plugin.schema = {{2, "INSERT INTO t VALUES ('two')"}, {1, "CREATE TABLE t (a TEXT)"}};
			StartResult result = host.start(plugin);
			CPPUNIT_ASSERT_MESSAGE(result.message, result.status == StartStatus::STARTED);
			host.stop(plugin);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), storage.execute("SELECT * FROM t").rows.size());
		{
			FakeHost host;
			host.setStorage(&storage);
			ScriptedPlugin plugin;
			plugin.schema = {{3, "INSERT INTO t VALUES ('three'); INSERT INTO missing VALUES (1)"}};
			StartResult result = host.start(plugin);
			CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
			// The host's wording (MigrationPlan and the same steps as its SQLite backend).
			CPPUNIT_ASSERT_MESSAGE(
			    result.message, result.message.find("plugin 'test': migration 3 failed: no such table: missing") == 0);
			CPPUNIT_ASSERT_MESSAGE(result.message,
			                       result.message.find("the schema stays at version 2") != std::string::npos);
			plugin.schema = {{4, "SELECT 1"}, {4, "SELECT 2"}};
			result = host.start(plugin);
			CPPUNIT_ASSERT_EQUAL(std::string("plugin 'test': migration version 4 appears more than once"),
			                     result.message);
			plugin.schema = {{3, "BEGIN; CREATE TABLE u (a TEXT); COMMIT"}};
			result = host.start(plugin);
			CPPUNIT_ASSERT_MESSAGE(result.message, result.message.find("transaction control") != std::string::npos);
		}
		// The failed migration was rolled back as a whole.
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), storage.execute("SELECT * FROM t").rows.size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(6), storage.execute("SELECT v FROM log").rows.size());
		{
			// A plugin older than its database is refused.
			FakeHost host;
			host.setStorage(&storage);
			ScriptedPlugin plugin;
			plugin.schema = {{1, "CREATE TABLE t (a TEXT)"}};
			StartResult result = host.start(plugin);
			CPPUNIT_ASSERT(result.status == StartStatus::FAILED);
			CPPUNIT_ASSERT_MESSAGE(result.message,
			                       result.message.find("plugin 'test': the database is newer than the plugin") == 0);
		}
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(2),
		    valueAsInt(storage.execute(std::string("SELECT MAX(version) FROM ") + FakeHost::MIGRATIONS_TABLE)
		                   .rows.at(0)
		                   .at(0)));
	}

	void testRandomBytes()
	{
		FakeHost a, b;
		unsigned char x[13], y[13];
		a.randomBytes(x, sizeof(x));
		b.randomBytes(y, sizeof(y));
		CPPUNIT_ASSERT(std::memcmp(x, y, sizeof(x)) == 0); // deterministic
		a.randomBytes(y, sizeof(y));
		CPPUNIT_ASSERT(std::memcmp(x, y, sizeof(x)) != 0); // a stream, not a constant
		b.setRandomSeed(42);
		b.randomBytes(y, sizeof(y));
		CPPUNIT_ASSERT(std::memcmp(x, y, sizeof(x)) != 0);
		int nonZero = 0;
		for (unsigned char c : y)
			nonZero += c != 0;
		CPPUNIT_ASSERT(nonZero > 6);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(FakeHostTest);

//
// ConfigTest.cpp
//
// Unit tests of HostConfig, IniFile and ConfigRules: file syntax, layering, validation errors,
// plugin keys, rendering.
//


#include "config/HostConfig.h"
#include "config/IniFile.h"
#include "switchboard/util/ConfigRules.h"
#include "switchboard/util/Json.h"
#include "switchboard/util/Names.h"
#include "Poco/TemporaryFile.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>


using Switchboard::Config;
using Switchboard::ConfigKey;
using Switchboard::ConfigType;
using Switchboard::Core::HostConfig;
using Switchboard::Core::IniFile;
using Switchboard::Core::PluginSchema;
using Switchboard::Core::ServerSettings;
namespace ConfigRules = Switchboard::ConfigRules;


namespace {


using Env = std::map<std::string, std::string>;
using Args = std::vector<std::string>;


const ConfigKey ECHO_KEYS[] = {
    {"greeting", ConfigType::STRING, "hello", "text sent to every new connection", 0, 0},
    {"max_size", ConfigType::INTEGER, "4096", "largest echoed message in bytes", 1, 1048576},
    {"uppercase", ConfigType::BOOLEAN, "false", "whether echoes are upper-cased", 0, 0},
    {"ratio", ConfigType::DOUBLE, "0.5", "a number", 0, 0},
    {"tags", ConfigType::STRING_LIST, "", "a list", 0, 0},
};

const ConfigKey DOTTED_KEYS[] = {
    {"ws.heartbeat_timeout", ConfigType::INTEGER, "30", "seconds without a heartbeat before the close", 1, 3600},
    {"ws.send_queue.max_bytes", ConfigType::INTEGER, "65536", "bytes queued per connection", 1, 1048576},
    {"auth_rate_limit.per_second", ConfigType::DOUBLE, "5", "auth attempts per second and client", 0, 0},
    {"ws", ConfigType::BOOLEAN, "true", "a plain key that is also the first segment of others", 0, 0},
    {"motd", ConfigType::STRING, "", "a plain key", 0, 0},
};

const ConfigKey STRICT_KEYS[] = {
    {"secret", ConfigType::STRING, nullptr, "required secret", 0, 0},
    {"rounds", ConfigType::INTEGER, "10", "rounds", 1, 100},
};


class TempConfig
// A configuration file that disappears with the test.
{
public:
	explicit TempConfig(const std::string& content)
	{
		std::ofstream out(_file.path());
		out << content;
	}

	const std::string& path() const { return _file.path(); }

private:
	Poco::TemporaryFile _file;
};


std::string dumpSettings(const ServerSettings& s)
// Every value the fixed sections set, for comparing two loads.
{
	const auto& t = s.transport;
	std::ostringstream o;
	o << t.eventLoops << '|' << s.workerThreads << '|' << s.logLevel << '|' << s.shutdownDeadlineMs << '|'
	  << s.abortOnPluginFailure << '|' << s.pluginDir << '|' << t.poller << '|' << t.maxConnections << '|'
	  << s.storageBackend << '|' << s.storageDirectory << '|' << s.http.maxThreads << '|' << s.http.maxQueued << '|'
	  << s.http.maxBodySize << '|' << s.http.keepAlive << '|' << t.maxMessageSize << '|' << t.idleTimeoutMs << '|'
	  << t.pingIntervalMs << '|' << t.closeTimeoutMs << '|' << t.highWatermark << '|' << t.lowWatermark << '|'
	  << t.maxOutputQueue << '|' << s.http.requestTimeoutMs << '|' << s.adminEnabled << '|' << s.adminAddress << '|'
	  << s.adminPort;
	const auto& k = s.cluster;
	o << '|' << k.enabled << '|' << k.nodeId << '|' << k.redisHost << '|' << k.redisPort << '|' << k.redisPassword
	  << '|' << k.keyPrefix << '|' << k.nodeTtlSeconds << '|' << k.publishQueueLimit;
	return o.str();
}


std::string dumpMounts(const ServerSettings& s)
{
	std::ostringstream o;
	for (const auto& m : s.plugins)
		o << "|M:" << m.name << ',' << m.listener << ',' << m.prefix;
	return o.str();
}


std::string dump(const HostConfig& c)
// Settings, listeners and plugin sections.
{
	std::ostringstream o;
	o << dumpSettings(c.settings()) << dumpMounts(c.settings());
	for (const auto& l : c.listeners())
		o << "|L:" << l.name << ',' << l.address << ',' << l.port << ',' << l.backlog;
	for (const auto& p : c.plugins())
		o << "|P:" << p.name << ',' << p.enabled << ',' << p.listener << ',' << p.prefix;
	return o.str();
}


} // namespace


class ConfigTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(ConfigTest);
	CPPUNIT_TEST(testDefaultsWithoutFile);
	CPPUNIT_TEST(testEventLoopsResolution);
	CPPUNIT_TEST(testMissingFile);
	CPPUNIT_TEST(testFullFile);
	CPPUNIT_TEST(testChangedKeys);
	CPPUNIT_TEST(testEmptySectionsAndCase);
	CPPUNIT_TEST(testEnvironmentKey);
	CPPUNIT_TEST(testEnvironmentBeatsFile);
	CPPUNIT_TEST(testCommandLineBeatsEnvironment);
	CPPUNIT_TEST(testEnvironmentSection);
	CPPUNIT_TEST(testUnknownHostKey);
	CPPUNIT_TEST(testUnknownSection);
	CPPUNIT_TEST(testKeyOutsideSection);
	CPPUNIT_TEST(testBadInteger);
	CPPUNIT_TEST(testOutOfRange);
	CPPUNIT_TEST(testBadEnum);
	CPPUNIT_TEST(testBadBool);
	CPPUNIT_TEST(testBadAddress);
	CPPUNIT_TEST(testErrorsFromEnvironmentAndCommandLine);
	CPPUNIT_TEST(testMalformedOverride);
	CPPUNIT_TEST(testMissingListenerPort);
	CPPUNIT_TEST(testInvalidListenerName);
	CPPUNIT_TEST(testUndefinedListener);
	CPPUNIT_TEST(testListenerResolution);
	CPPUNIT_TEST(testDisabledPluginNeedsNoListener);
	CPPUNIT_TEST(testBadPrefix);
	CPPUNIT_TEST(testDuplicateAddress);
	CPPUNIT_TEST(testAdminClash);
	CPPUNIT_TEST(testWatermarkOrder);
	CPPUNIT_TEST(testSeveralErrors);
	CPPUNIT_TEST(testPluginDefaults);
	CPPUNIT_TEST(testUnknownPluginKey);
	CPPUNIT_TEST(testBadPluginValue);
	CPPUNIT_TEST(testMissingRequiredPluginKey);
	CPPUNIT_TEST(testBadPluginDeclaration);
	CPPUNIT_TEST(testPluginsWithoutLibrary);
	CPPUNIT_TEST(testSchemaExpectations);
	CPPUNIT_TEST(testRenderRoundTrip);
	CPPUNIT_TEST(testShippedSample);
	CPPUNIT_TEST(testIniSyntax);
	CPPUNIT_TEST(testFileErrorNamesLine);
	CPPUNIT_TEST(testMalformedLine);
	CPPUNIT_TEST(testKeyRowDrivesField);
	CPPUNIT_TEST(testValidateSectionMessages);
	CPPUNIT_TEST(testKeyNames);
	CPPUNIT_TEST(testDottedKeyDeclarations);
	CPPUNIT_TEST(testDottedKeysFromEverySource);
	CPPUNIT_TEST(testDottedKeyErrors);
	CPPUNIT_TEST(testDottedKeysRender);
	CPPUNIT_TEST(testListenerJsonErrors);
	CPPUNIT_TEST(testControlCharactersInKeysGiveOneLineErrors);
	CPPUNIT_TEST(testClusterSection);
	CPPUNIT_TEST_SUITE_END();

public:
	void testEventLoopsResolution()
	{
		// A configured count is taken as it is; 0 is one per core but one, never below one.
		CPPUNIT_ASSERT_EQUAL(3, Switchboard::Core::resolveEventLoops(3, 2));
		CPPUNIT_ASSERT_EQUAL(1, Switchboard::Core::resolveEventLoops(1, 64));
		CPPUNIT_ASSERT_EQUAL(1, Switchboard::Core::resolveEventLoops(0, 0)); // core count unknown
		CPPUNIT_ASSERT_EQUAL(1, Switchboard::Core::resolveEventLoops(0, 1));
		CPPUNIT_ASSERT_EQUAL(1, Switchboard::Core::resolveEventLoops(0, 2));
		CPPUNIT_ASSERT_EQUAL(2, Switchboard::Core::resolveEventLoops(0, 3));
		CPPUNIT_ASSERT_EQUAL(15, Switchboard::Core::resolveEventLoops(0, 16));
	}

	void testChangedKeys()
	{
		// What a reload compares: keys set differently, set in one only; from any source.
		TempConfig file("[host]\nlog_level = debug\n[listener.main]\nport = 9000\n[plugin.echo]\n"
		                "listener = main\ngreeting = hi\n");
		HostConfig before, after;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, before, error));
		CPPUNIT_ASSERT(before.changedKeys(before).empty());
		CPPUNIT_ASSERT_MESSAGE(error,
		                       HostConfig::load(file.path(), {{"SWITCHBOARD_HOST__LOG_LEVEL", "warning"}},
		                                        {"plugin.echo.max_notes=5", "listener.main.port=9000"}, after, error));
		const std::vector<std::string> expected = {"host.log_level", "plugin.echo.max_notes"};
		CPPUNIT_ASSERT(before.changedKeys(after) == expected);
		CPPUNIT_ASSERT(after.changedKeys(before) == expected);
	}

	void testDefaultsWithoutFile()
	{
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string(), error);
		const ServerSettings& s = c.settings();
		CPPUNIT_ASSERT_EQUAL(0, s.transport.eventLoops); // automatic, resolved by main()
		CPPUNIT_ASSERT_EQUAL(4, s.workerThreads);
		CPPUNIT_ASSERT_EQUAL(std::string("information"), s.logLevel);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), s.shutdownDeadlineMs);
		CPPUNIT_ASSERT(s.abortOnPluginFailure);
		CPPUNIT_ASSERT_EQUAL(std::string(), s.pluginDir);
		CPPUNIT_ASSERT_EQUAL(std::string("epoll"), s.transport.poller);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), s.transport.maxConnections); // derived from RLIMIT_NOFILE
		CPPUNIT_ASSERT_EQUAL(std::string("sqlite"), s.storageBackend);
		CPPUNIT_ASSERT_EQUAL(std::string("./data"), s.storageDirectory);
		CPPUNIT_ASSERT_EQUAL(16, s.http.maxThreads);
		CPPUNIT_ASSERT_EQUAL(256, s.http.maxQueued);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048576), s.http.maxBodySize);
		CPPUNIT_ASSERT(s.http.keepAlive);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(10000), s.http.requestTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1048576), s.transport.maxMessageSize);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(120000), s.transport.idleTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(30000), s.transport.pingIntervalMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3000), s.transport.closeTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::size_t(262144), s.transport.highWatermark);
		CPPUNIT_ASSERT_EQUAL(std::size_t(65536), s.transport.lowWatermark);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1048576), s.transport.maxOutputQueue);
		CPPUNIT_ASSERT(s.adminEnabled);
		CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), s.adminAddress);
		CPPUNIT_ASSERT_EQUAL(9090, s.adminPort);
		CPPUNIT_ASSERT(c.listeners().empty());
		CPPUNIT_ASSERT(c.plugins().empty());
		CPPUNIT_ASSERT(s.plugins.empty());
		CPPUNIT_ASSERT_EQUAL(std::string("default"), c.origin("host.log_level"));
	}

	void testMissingFile()
	{
		HostConfig c;
		std::string error;
		std::string path = Poco::TemporaryFile::tempName() + ".ini";
		CPPUNIT_ASSERT(!HostConfig::load(path, {}, {}, c, error));
		assertOneLine(error, path + ": ", "no such file");
	}

	void testFullFile()
	{
		TempConfig file("; a complete file\n"
		                "[host]\n"
		                "event_loops = 3\n"
		                "worker_threads = 7\n"
		                "log_level = debug\n"
		                "shutdown_deadline_ms = 1500\n"
		                "on_plugin_failure = skip\n"
		                "plugin_dir = /opt/sb/plugins\n"
		                "max_connections = 5000\n"
		                "\n"
		                "[storage]\n"
		                "backend = sqlite\n"
		                "directory = /var/lib/sb\n"
		                "[http]\n"
		                "max_threads = 32\n"
		                "max_queued = 512\n"
		                "max_body_size = 2048\n"
		                "keep_alive = no\n"
		                "[websocket]\n"
		                "max_message_size = 65536\n"
		                "idle_timeout_ms = 0\n"
		                "ping_interval_ms = 15000\n"
		                "close_timeout_ms = 2000\n"
		                "high_watermark = 100000\n"
		                "low_watermark = 50000\n"
		                "max_output_queue = 200000\n"
		                "handshake_timeout_ms = 5000\n"
		                "[admin]\n"
		                "enabled = off\n"
		                "address = ::1\n"
		                "port = 9191\n"
		                "[listener.main]\n"
		                "address = 127.0.0.1\n"
		                "port = 9000\n"
		                "backlog = 128\n"
		                "[listener.alt]\n"
		                "port = 9001\n"
		                "[plugin.echo]\n"
		                "enabled = yes\n"
		                "listener = alt\n"
		                "prefix = /echo\n"
		                "greeting = hi there\n"
		                "[plugin.peerjs]\n"
		                "enabled = false\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		const ServerSettings& s = c.settings();
		CPPUNIT_ASSERT_EQUAL(3, s.transport.eventLoops);
		CPPUNIT_ASSERT_EQUAL(7, s.workerThreads);
		CPPUNIT_ASSERT_EQUAL(std::string("debug"), s.logLevel);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1500), s.shutdownDeadlineMs);
		CPPUNIT_ASSERT(!s.abortOnPluginFailure);
		CPPUNIT_ASSERT_EQUAL(std::string("/opt/sb/plugins"), s.pluginDir);
		CPPUNIT_ASSERT_EQUAL(std::size_t(5000), s.transport.maxConnections);
		CPPUNIT_ASSERT_EQUAL(std::string("/var/lib/sb"), s.storageDirectory);
		CPPUNIT_ASSERT_EQUAL(32, s.http.maxThreads);
		CPPUNIT_ASSERT_EQUAL(512, s.http.maxQueued);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2048), s.http.maxBodySize);
		CPPUNIT_ASSERT(!s.http.keepAlive);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(65536), s.transport.maxMessageSize);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), s.transport.idleTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(15000), s.transport.pingIntervalMs);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2000), s.transport.closeTimeoutMs);
		CPPUNIT_ASSERT_EQUAL(std::size_t(100000), s.transport.highWatermark);
		CPPUNIT_ASSERT_EQUAL(std::size_t(50000), s.transport.lowWatermark);
		CPPUNIT_ASSERT_EQUAL(std::size_t(200000), s.transport.maxOutputQueue);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5000), s.http.requestTimeoutMs);
		CPPUNIT_ASSERT(!s.adminEnabled);
		CPPUNIT_ASSERT_EQUAL(std::string("::1"), s.adminAddress);
		CPPUNIT_ASSERT_EQUAL(9191, s.adminPort);

		CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.listeners().size());
		CPPUNIT_ASSERT_EQUAL(std::string("alt"), c.listeners()[0].name);
		CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0"), c.listeners()[0].address);
		CPPUNIT_ASSERT_EQUAL(9001, int(c.listeners()[0].port));
		CPPUNIT_ASSERT_EQUAL(4096, c.listeners()[0].backlog);
		CPPUNIT_ASSERT_EQUAL(std::string("main"), c.listeners()[1].name);
		CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), c.listeners()[1].address);
		CPPUNIT_ASSERT_EQUAL(9000, int(c.listeners()[1].port));
		CPPUNIT_ASSERT_EQUAL(128, c.listeners()[1].backlog);

		CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.plugins().size());
		const auto* echo = c.plugin("echo");
		CPPUNIT_ASSERT(echo);
		CPPUNIT_ASSERT(echo->enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("alt"), echo->listener);
		CPPUNIT_ASSERT_EQUAL(std::string("/echo"), echo->prefix);
		const auto* peerjs = c.plugin("peerjs");
		CPPUNIT_ASSERT(peerjs);
		CPPUNIT_ASSERT(!peerjs->enabled);
		CPPUNIT_ASSERT(c.plugin("nope") == nullptr);
		CPPUNIT_ASSERT_EQUAL(file.path() + ":34", c.origin("listener.main.port"));
		CPPUNIT_ASSERT_EQUAL(file.path() + ":32", c.origin("listener.main")); // the section's header

		// Only the enabled plugin is mounted.
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.plugins.size());
		CPPUNIT_ASSERT_EQUAL(std::string("echo"), s.plugins[0].name);
		CPPUNIT_ASSERT_EQUAL(std::string("alt"), s.plugins[0].listener);
		CPPUNIT_ASSERT_EQUAL(std::string("/echo"), s.plugins[0].prefix);

		Config echoConfig;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), echoConfig, error));
		CPPUNIT_ASSERT_EQUAL(std::string("hi there"), echoConfig.getString("greeting"));
	}

	void testEmptySectionsAndCase()
	{
		// An empty plugin section enables the plugin with defaults; names are case-insensitive.
		TempConfig file("[Listener.Main]\nPORT = 9000\n[plugin.echo]\n\n[HOST]\nLog_Level = warning\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("warning"), c.settings().logLevel);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), c.listeners().size());
		CPPUNIT_ASSERT_EQUAL(std::string("main"), c.listeners()[0].name);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), c.plugins().size());
		CPPUNIT_ASSERT(c.plugins()[0].enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("main"), c.plugins()[0].listener);
		CPPUNIT_ASSERT_EQUAL(std::string(), c.plugins()[0].prefix);

		// An empty listener section still needs its port.
		TempConfig empty("[listener.main]\n");
		CPPUNIT_ASSERT(!HostConfig::load(empty.path(), {}, {}, c, error));
		assertOneLine(error, empty.path() + ":1: listener.main.port: ", "missing required key");
	}

	void testEnvironmentKey()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.echo.greeting"),
		                     HostConfig::environmentKey("SWITCHBOARD_PLUGIN__ECHO__GREETING"));
		CPPUNIT_ASSERT_EQUAL(std::string("host.log_level"), HostConfig::environmentKey("SWITCHBOARD_HOST__LOG_LEVEL"));
		CPPUNIT_ASSERT_EQUAL(std::string(), HostConfig::environmentKey("SWITCHBOARD_PLUGIN_DIR"));
		CPPUNIT_ASSERT_EQUAL(std::string(), HostConfig::environmentKey("HOME"));
		CPPUNIT_ASSERT_EQUAL(std::string(), HostConfig::environmentKey("XSWITCHBOARD_HOST__LOG_LEVEL"));

		// Variables that are not configuration keys are ignored, not errors.
		HostConfig c;
		std::string error;
		Env env{{"SWITCHBOARD_PLUGIN_DIR", "/x"}, {"PATH", "/bin"}};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load("", env, {}, c, error));

		// The real environment reader sees a variable set in this process.
#ifdef _WIN32
		_putenv_s("SWITCHBOARD_TEST__PROBE", "1");
		Env real = HostConfig::processEnvironment();
		_putenv_s("SWITCHBOARD_TEST__PROBE", "");
#else
		::setenv("SWITCHBOARD_TEST__PROBE", "1", 1);
		Env real = HostConfig::processEnvironment();
		::unsetenv("SWITCHBOARD_TEST__PROBE");
#endif
		CPPUNIT_ASSERT_EQUAL(std::string("1"), real["SWITCHBOARD_TEST__PROBE"]);
		// Every variable: [environment] may name any of them.
		CPPUNIT_ASSERT(real.find("PATH") != real.end());
	}

	void testEnvironmentBeatsFile()
	{
		TempConfig file("[host]\nlog_level = warning\nworker_threads = 8\n[listener.main]\nport = 9000\n");
		Env env{{"SWITCHBOARD_HOST__LOG_LEVEL", "debug"},
		        {"SWITCHBOARD_PLUGIN__ECHO__GREETING", "hi"},
		        {"SWITCHBOARD_LISTENER__MAIN__PORT", " 9100 "}};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("debug"), c.settings().logLevel);
		CPPUNIT_ASSERT_EQUAL(8, c.settings().workerThreads);
		CPPUNIT_ASSERT_EQUAL(9100, int(c.listeners()[0].port));
		CPPUNIT_ASSERT_EQUAL(std::string("environment (SWITCHBOARD_HOST__LOG_LEVEL)"), c.origin("host.log_level"));
		CPPUNIT_ASSERT_EQUAL(file.path() + ":3", c.origin("host.worker_threads"));

		// The environment alone can create a plugin section.
		CPPUNIT_ASSERT(c.plugin("echo"));
		Config echo;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), echo, error));
		CPPUNIT_ASSERT_EQUAL(std::string("hi"), echo.getString("greeting"));
	}

	void testCommandLineBeatsEnvironment()
	{
		TempConfig file("[host]\nlog_level = warning\n");
		Env env{{"SWITCHBOARD_HOST__LOG_LEVEL", "debug"}, {"SWITCHBOARD_HOST__WORKER_THREADS", "9"}};
		Args args{"host.log_level=error", "listener.extra.port = 9500", "host.log_level = notice"};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, args, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("notice"), c.settings().logLevel); // the later --set wins
		CPPUNIT_ASSERT_EQUAL(9, c.settings().workerThreads);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), c.listeners().size());
		CPPUNIT_ASSERT_EQUAL(9500, int(c.listeners()[0].port));
		CPPUNIT_ASSERT_EQUAL(std::string("command line"), c.origin("host.log_level"));
	}

	void testEnvironmentSection()
	{
		TempConfig file(
		    "[listener.pv]\naddress = 0.0.0.0\nport = 8083\n[host]\nlog_level = warning\n"
		    "[environment]\nlistener.pv.port = PV_PORT\nlistener.pv.address = PV_HOST\n"
		    "host.log_level = PV_LEVEL\nplugin.echo.greeting = PV_GREETING\nhost.worker_threads = PV_UNSET\n");
		// An alias applies when its variable is set; SWITCHBOARD_* and --set still beat it.
		Env env{{"PV_PORT", "18083"},
		        {"PV_HOST", "localhost"},
		        {"PV_LEVEL", "debug"},
		        {"PV_GREETING", "hello"},
		        {"SWITCHBOARD_HOST__LOG_LEVEL", "error"}};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, {"plugin.echo.greeting=cli"}, c, error));
		CPPUNIT_ASSERT_EQUAL(18083, int(c.listeners()[0].port));
		CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), c.listeners()[0].address); // localhost is the loopback
		CPPUNIT_ASSERT_EQUAL(std::string("environment (PV_PORT, through [environment])"), c.origin("listener.pv.port"));
		CPPUNIT_ASSERT_EQUAL(std::string("error"), c.settings().logLevel);
		CPPUNIT_ASSERT_EQUAL(std::string("command line"), c.origin("plugin.echo.greeting"));
		CPPUNIT_ASSERT_EQUAL(4, c.settings().workerThreads); // PV_UNSET: the default stays
		// --print-config keeps the section, so its output loads the same way.
		std::string printed = c.render({});
		CPPUNIT_ASSERT_MESSAGE(printed,
		                       printed.find("[environment]\nlistener.pv.port = PV_PORT\n") != std::string::npos);

		// A value that does not suit the key names the variable.
		HostConfig bad;
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {{"PV_PORT", "eighty"}}, {}, bad, error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("PV_PORT") != std::string::npos);

		// Malformed lines, and [environment] is file-only.
		for (const char* text : {"[environment]\nport = PV_PORT\n", "[environment]\nhost.log_level = 1BAD\n",
		                         "[environment]\nhost.log_level = PV-LEVEL\n"})
		{
			TempConfig malformed(text);
			HostConfig refused;
			CPPUNIT_ASSERT_MESSAGE(text, !HostConfig::load(malformed.path(), {}, {}, refused, error));
			CPPUNIT_ASSERT_MESSAGE(error, error.find("environment.") != std::string::npos);
		}
		HostConfig fromCommandLine;
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {}, {"environment.host.log_level=X"}, fromCommandLine, error));
		CPPUNIT_ASSERT_MESSAGE(error, error.find("configuration file only") != std::string::npos);
	}

	void testUnknownHostKey()
	{
		expectFileError("[host]\nlog_levl = debug\n", 2, "host.log_levl", "unknown key ([host] accepts: event_loops, ");
	}

	void testUnknownSection()
	{
		expectFileError("[hots]\nlog_level = debug\n", 2, "hots.log_level", "unknown section [hots]");
		expectFileError("[plugins]\n", 1, "plugins", "unknown section [plugins]");
		expectFileError("[listener]\nport = 1\n", 2, "listener.port", "unknown section [listener]");
	}

	void testKeyOutsideSection()
	{
		expectFileError("log_level = debug\n[host]\n", 1, "log_level", "key outside any section");
	}

	void testBadInteger()
	{
		expectFileError("[host]\nworker_threads = many\n", 2, "host.worker_threads",
		                "expected an integer between 1 and 256, got \"many\"");
		expectFileError("[http]\nmax_threads = 12abc\n", 2, "http.max_threads",
		                "expected an integer between 1 and 1024, got \"12abc\"");
	}

	void testOutOfRange()
	{
		expectFileError("[host]\nworker_threads = 0\n", 2, "host.worker_threads",
		                "expected an integer between 1 and 256, got \"0\"");
		expectFileError("[admin]\nport = 70000\n", 2, "admin.port",
		                "expected an integer between 0 and 65535, got \"70000\"");
		expectFileError("[websocket]\nclose_timeout_ms = 99\n", 2, "websocket.close_timeout_ms",
		                "expected an integer between 100 and 60000, got \"99\"");
	}

	void testBadEnum()
	{
		expectFileError("[host]\nlog_level = loud\n", 2, "host.log_level",
		                "expected one of trace, debug, information, notice, warning, error, got \"loud\"");
		expectFileError("[storage]\nbackend = postgres\n", 2, "storage.backend",
		                "expected one of sqlite, postgresql, got \"postgres\"");
		expectFileError("[host]\non_plugin_failure = ignore\n", 2, "host.on_plugin_failure",
		                "expected one of abort, skip, got \"ignore\"");
	}

	void testBadBool()
	{
		expectFileError("[http]\nkeep_alive = maybe\n", 2, "http.keep_alive",
		                "expected a boolean (true/false, yes/no, on/off, 1/0), got \"maybe\"");
		expectFileError("[listener.main]\nport = 1\n[plugin.echo]\nenabled = 2\n", 4, "plugin.echo.enabled",
		                "expected a boolean");
	}

	void testBadAddress()
	{
		expectFileError("[listener.main]\nport = 9000\naddress = example.com\n", 3, "listener.main.address",
		                "expected an IP address");
		expectFileError("[admin]\naddress = 300.1.1.1\n", 2, "admin.address", "expected an IP address");
		// A bad address is reported once, not again as a clash of its fallback value.
		expectFileError("[listener.a]\naddress = nope\nport = 9000\n[listener.b]\nport = 9000\n", 2,
		                "listener.a.address", "expected an IP address");
	}

	void testErrorsFromEnvironmentAndCommandLine()
	{
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load("", {{"SWITCHBOARD_HTTP__MAX_THREADS", "lots"}}, {}, c, error));
		assertOneLine(error, "environment (SWITCHBOARD_HTTP__MAX_THREADS): http.max_threads: ",
		              "expected an integer between 1 and 1024, got \"lots\"");

		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host.worker_treads=3"}, c, error));
		assertOneLine(error, "command line: host.worker_treads: ", "unknown key");

		CPPUNIT_ASSERT(!HostConfig::load("", {{"SWITCHBOARD_HOST__LOG_LEVEL", "a\nb"}}, {}, c, error));
		assertOneLine(error, "environment (SWITCHBOARD_HOST__LOG_LEVEL): host.log_level: ", "expected a single line");
	}

	void testMalformedOverride()
	{
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host.log_level"}, c, error));
		assertOneLine(error, "command line: host.log_level: ", "expected key=value");
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"=3"}, c, error));
		assertOneLine(error, "command line: --set: ", "expected key=value");
	}

	void testMissingListenerPort()
	{
		expectFileError("[listener.main]\naddress = 0.0.0.0\n", 1, "listener.main.port",
		                "missing required key (expected an integer between 0 and 65535)");
	}

	void testInvalidListenerName()
	{
		expectFileError("[listener.my-main]\nport = 1\n", 2, "listener.my-main.port",
		                "invalid listener name \"my-main\"");
	}

	void testUndefinedListener()
	{
		expectFileError("[listener.main]\nport = 9000\n[plugin.echo]\nlistener = other\n", 4, "plugin.echo.listener",
		                "expected one of the listeners main, got \"other\"");
		expectFileError("[plugin.echo]\nprefix = /echo\n", 1, "plugin.echo.listener", "no listener is defined");
	}

	void testListenerResolution()
	{
		// Two listeners: an enabled plugin must say which one.
		expectFileError("[listener.a]\nport = 9000\n[listener.b]\nport = 9001\n[plugin.echo]\n", 5,
		                "plugin.echo.listener", "missing required key (expected one of the listeners a, b)");

		TempConfig file("[listener.a]\nport = 9000\n[listener.b]\nport = 9001\n"
		                "[plugin.echo]\nlistener = b\nprefix = /e\n[plugin.other]\nlistener = b\nprefix = /e\n");
		HostConfig c;
		std::string error;
		// Same listener and prefix for two plugins is left to the router.
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("b"), c.plugin("echo")->listener);
		CPPUNIT_ASSERT_EQUAL(std::string("b"), c.plugin("other")->listener);
	}

	void testDisabledPluginNeedsNoListener()
	{
		TempConfig file("[plugin.echo]\nenabled = false\nlistener = gone\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT(!c.plugin("echo")->enabled);
	}

	void testBadPrefix()
	{
		const char* bad[] = {"echo", "/echo/", "/", "/a//b", "/a b", "/a?x"};
		for (const char* prefix : bad)
			expectFileError(std::string("[listener.main]\nport = 9000\n[plugin.echo]\nprefix = ") + prefix + "\n", 4,
			                "plugin.echo.prefix", "expected a path prefix");
	}

	void testDuplicateAddress()
	{
		expectFileError("[listener.a]\nport = 9000\n[listener.b]\nport = 9000\n", 4, "listener.b.port",
		                "0.0.0.0:9000 clashes with listener.a (0.0.0.0:9000)");
		expectFileError(
		    "[listener.a]\naddress = 0.0.0.0\nport = 9000\n[listener.b]\naddress = 127.0.0.1\nport = 9000\n", 6,
		    "listener.b.port", "127.0.0.1:9000 clashes with listener.a");
		expectFileError("[listener.a]\naddress = ::\nport = 9000\n[listener.b]\naddress = 10.0.0.1\nport = 9000\n", 6,
		                "listener.b.port", "clashes with listener.a ([::]:9000)");

		// Distinct specific addresses, distinct ports and port 0 do not clash.
		TempConfig ok("[listener.a]\naddress = 127.0.0.1\nport = 9000\n[listener.b]\naddress = 127.0.0.2\nport = 9000\n"
		              "[listener.c]\nport = 0\n[listener.d]\nport = 0\n[listener.e]\nport = 9001\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(ok.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), c.listeners().size());
	}

	void testAdminClash()
	{
		expectFileError("[listener.main]\nport = 9090\n", 2, "admin.port", "127.0.0.1:9090 clashes with listener.main");
		TempConfig ok("[listener.main]\nport = 9090\n[admin]\nenabled = false\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(ok.path(), {}, {}, c, error));
	}

	void testWatermarkOrder()
	{
		expectFileError("[websocket]\nlow_watermark = 300000\n", 2, "websocket.low_watermark",
		                "expected less than websocket.high_watermark (262144), got \"300000\"");
		expectFileError("[websocket]\nhigh_watermark = 2000000\n", 2, "websocket.high_watermark",
		                "expected at most websocket.max_output_queue (1048576), got \"2000000\"");
	}

	void testSeveralErrors()
	{
		// Every problem is reported at once, one line each.
		TempConfig file("[host]\nworker_threads = 0\nlog_level = loud\n[nope]\nx = 1\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {}, {}, c, error));
		std::vector<std::string> lines;
		std::istringstream in(error);
		for (std::string line; std::getline(in, line);)
			lines.push_back(line);
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), lines.size());
		for (const auto& line : lines)
			CPPUNIT_ASSERT_EQUAL(std::size_t(0), line.find(file.path() + ":"));
	}

	void testPluginDefaults()
	{
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {"listener.main.port=9000", "plugin.echo.max_size=100"}, c, error));
		Config config;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), config.values().size());
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), config.getString("greeting"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(100), config.getInt("max_size"));
		CPPUNIT_ASSERT(!config.getBool("uppercase"));
		CPPUNIT_ASSERT_EQUAL(0.5, config.getDouble("ratio"));
		CPPUNIT_ASSERT(config.getList("tags").empty());
		CPPUNIT_ASSERT(!config.has("enabled")); // host-owned keys stay out of the plugin's Config

		// A plugin without a section gets its defaults.
		Config other;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("other", ECHO_KEYS, std::size(ECHO_KEYS), other, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(4096), other.getInt("max_size"));
		Config none;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("other", nullptr, 0, none, error));
		CPPUNIT_ASSERT(none.values().empty());
	}

	void testUnknownPluginKey()
	{
		TempConfig file("[listener.main]\nport = 9000\n[plugin.echo]\nprefix = /echo\ngreting = hi\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error)); // step 1 ignores plugin keys
		Config config;
		CPPUNIT_ASSERT(!c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(file.path() +
		                         ":5: plugin.echo.greting: unknown key (plugin echo accepts: enabled, listener, "
		                         "prefix, greeting, max_size, uppercase, ratio, tags)",
		                     error);
	}

	void testBadPluginValue()
	{
		TempConfig file("[listener.main]\nport = 9000\n[plugin.echo]\nmax_size = big\nuppercase = 1\nratio = x\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		Config config;
		CPPUNIT_ASSERT(!c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(file.path() +
		                         ":4: plugin.echo.max_size: expected an integer between 1 and 1048576, got "
		                         "\"big\"\n" +
		                         file.path() + ":6: plugin.echo.ratio: expected a number, got \"x\"",
		                     error);

		Env env{{"SWITCHBOARD_PLUGIN__ECHO__MAX_SIZE", "0"}, {"SWITCHBOARD_LISTENER__MAIN__PORT", "9000"}};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load("", env, {}, c, error));
		CPPUNIT_ASSERT(!c.validatePlugin("echo", ECHO_KEYS, std::size(ECHO_KEYS), config, error));
		assertOneLine(error, "environment (SWITCHBOARD_PLUGIN__ECHO__MAX_SIZE): plugin.echo.max_size: ",
		              "expected an integer between 1 and 1048576, got \"0\"");
	}

	void testMissingRequiredPluginKey()
	{
		TempConfig file("[listener.main]\nport = 9000\n[plugin.vault]\nrounds = 5\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		Config config;
		CPPUNIT_ASSERT(!c.validatePlugin("vault", STRICT_KEYS, std::size(STRICT_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(file.path() + ":3: plugin.vault.secret: missing required key (expected a string)", error);

		CPPUNIT_ASSERT(HostConfig::load(file.path(), {}, {"plugin.vault.secret=s3"}, c, error));
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("vault", STRICT_KEYS, std::size(STRICT_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::string("s3"), config.getString("secret"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(5), config.getInt("rounds"));
	}

	void testBadPluginDeclaration()
	{
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, c, error));
		Config config;
		const ConfigKey reserved[] = {{"prefix", ConfigType::STRING, "", "clash", 0, 0}};
		CPPUNIT_ASSERT(!c.validatePlugin("bad", reserved, 1, config, error));
		assertOneLine(error, "plugin bad: invalid configuration declaration: ", "owned by the host");
		const ConfigKey twice[] = {{"a", ConfigType::STRING, "", "", 0, 0}, {"a", ConfigType::STRING, "", "", 0, 0}};
		CPPUNIT_ASSERT(!c.validatePlugin("bad", twice, 2, config, error));
		assertOneLine(error, "plugin bad: ", "declared twice");
		const ConfigKey badDefault[] = {{"n", ConfigType::INTEGER, "100", "", 1, 10}};
		CPPUNIT_ASSERT(!c.validatePlugin("bad", badDefault, 1, config, error));
		assertOneLine(error, "plugin bad: ", "has the default \"100\", not an integer between 1 and 10");
		const ConfigKey noName[] = {{nullptr, ConfigType::STRING, "", "", 0, 0}};
		CPPUNIT_ASSERT(!c.validatePlugin("bad", noName, 1, config, error));
		assertOneLine(error, "plugin bad: ", "has no name");
		CPPUNIT_ASSERT(!c.validatePlugin("bad", nullptr, 3, config, error));
		assertOneLine(error, "plugin bad: ", "no key table");
	}

	void testPluginsWithoutLibrary()
	{
		TempConfig file(
		    "[listener.main]\nport = 9000\n[plugin.echo]\n[plugin.ghost]\nenabled = false\n[plugin.zeta]\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		std::vector<std::string> missing = c.pluginsWithoutLibrary({"echo", "peerjs"});
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), missing.size());
		CPPUNIT_ASSERT_EQUAL(std::string("ghost"), missing[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("zeta"), missing[1]);
		assertOneLine(c.unknownPluginError("zeta", {"echo", "peerjs"}), file.path() + ":6: plugin.zeta: ",
		              "no plugin library named \"zeta\" was found (available: echo, peerjs)");
	}

	void testSchemaExpectations()
	{
		ConfigKey k{"n", ConfigType::INTEGER, "5", "", 0, 0};
		CPPUNIT_ASSERT(ConfigRules::checkValue(k, "-99999999999"));
		CPPUNIT_ASSERT(!ConfigRules::checkValue(k, "99999999999999999999")); // overflow
		CPPUNIT_ASSERT_EQUAL(std::string("an integer"), ConfigRules::expectation(k));
		k.minimum = -5;
		k.maximum = 5;
		CPPUNIT_ASSERT(ConfigRules::checkValue(k, "-5"));
		CPPUNIT_ASSERT(!ConfigRules::checkValue(k, "6"));
		CPPUNIT_ASSERT(!ConfigRules::checkValue(k, ""));
		ConfigKey s{"s", ConfigType::STRING, "", "", 0, 0};
		CPPUNIT_ASSERT(ConfigRules::checkValue(s, "b", "a|b|c"));
		CPPUNIT_ASSERT(!ConfigRules::checkValue(s, "d", "a|b|c"));
		CPPUNIT_ASSERT(!ConfigRules::checkValue(s, "a|b", "a|b|c"));
		CPPUNIT_ASSERT_EQUAL(std::string("\"a\\\"b\\n\\u0001\""), Switchboard::Json::quote("a\"b\n\x01"));
		CPPUNIT_ASSERT(Switchboard::Names::isSectionName("echo_2"));
		CPPUNIT_ASSERT(!Switchboard::Names::isSectionName("Echo"));
		CPPUNIT_ASSERT(!Switchboard::Names::isSectionName(""));
	}

	void testRenderRoundTrip()
	{
		TempConfig file(
		    "[host]\nworker_threads = 6\n[listener.main]\nport = 9000\n[listener.admin2]\naddress = ::1\n"
		    "port = 0\nbacklog = 50\n[plugin.echo]\nlistener = main\nprefix = /echo\ngreeting = hi ; there\n"
		    "[plugin.ghost]\nenabled = false\ncolour = blue\n[plugin.vault]\nlistener = main\n");
		Env env{{"SWITCHBOARD_HOST__LOG_LEVEL", "debug"}, {"SWITCHBOARD_PLUGIN__VAULT__SECRET", "s3"}};
		Args args{"http.keep_alive=false", "plugin.echo.max_size=77"};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, args, c, error));
		std::map<std::string, PluginSchema> schemas{{"echo", {ECHO_KEYS, std::size(ECHO_KEYS)}},
		                                            {"vault", {STRICT_KEYS, std::size(STRICT_KEYS)}}};
		std::string text = c.render(schemas);

		CPPUNIT_ASSERT(text.find("; set by environment (SWITCHBOARD_HOST__LOG_LEVEL)\nlog_level = debug\n") !=
		               std::string::npos);
		CPPUNIT_ASSERT(text.find("; set by command line\nmax_size = 77\n") != std::string::npos);
		CPPUNIT_ASSERT(text.find("; text sent to every new connection (default: hello)\ngreeting = hi ; there\n") !=
		               std::string::npos);
		CPPUNIT_ASSERT(text.find("(default: required)") != std::string::npos);
		CPPUNIT_ASSERT(text.find("colour = blue") != std::string::npos);

		TempConfig rendered(text);
		HostConfig again;
		CPPUNIT_ASSERT_MESSAGE(error + "\n" + text, HostConfig::load(rendered.path(), {}, {}, again, error));
		CPPUNIT_ASSERT_EQUAL(dump(c), dump(again));
		for (const auto& s : schemas)
		{
			Config a, b;
			CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin(s.first, s.second.keys, s.second.count, a, error));
			CPPUNIT_ASSERT_MESSAGE(error, again.validatePlugin(s.first, s.second.keys, s.second.count, b, error));
			CPPUNIT_ASSERT(a.values() == b.values());
		}
		// Rendering is stable: the rendered file renders to the same keys and values.
		std::string second = again.render(schemas);
		CPPUNIT_ASSERT_EQUAL(stripComments(text), stripComments(second));

		// Defaults-only configuration renders to a loadable file too.
		HostConfig defaults;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, defaults, error));
		TempConfig plain(defaults.render());
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(plain.path(), {}, {}, again, error));
		CPPUNIT_ASSERT_EQUAL(dump(defaults), dump(again));
	}

	void testShippedSample()
	{
		std::string path = std::string(SWITCHBOARD_SOURCE_DIR) + "/config/switchboard.ini";
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(path, {}, {}, c, error));
		// The sample spells out the defaults of the fixed sections.
		HostConfig defaults;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, defaults, error));
		CPPUNIT_ASSERT_EQUAL(dumpSettings(defaults.settings()), dumpSettings(c.settings()));
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), c.listeners().size());
		std::map<std::string, int> ports;
		std::map<std::string, bool> jsonErrors;
		for (const auto& listener : c.listeners())
		{
			// PeerVault's contract puts it on loopback; the others listen everywhere.
			CPPUNIT_ASSERT_EQUAL(std::string(listener.name == "peervault" ? "127.0.0.1" : "0.0.0.0"), listener.address);
			CPPUNIT_ASSERT(listener.tlsCertificate.empty()); // TLS is the operator's to turn on
			ports[listener.name] = int(listener.port);
			jsonErrors[listener.name] = listener.jsonErrors;
		}
		CPPUNIT_ASSERT_EQUAL(9000, ports["main"]);
		CPPUNIT_ASSERT_EQUAL(8081, ports["govpn"]);
		CPPUNIT_ASSERT_EQUAL(8080, ports["together"]);
		CPPUNIT_ASSERT_EQUAL(8083, ports["peervault"]);
		// Together's and PeerVault's clients expect JSON errors; the others keep the host's plain text.
		CPPUNIT_ASSERT(jsonErrors["together"] && jsonErrors["peervault"]);
		CPPUNIT_ASSERT(!jsonErrors["main"] && !jsonErrors["govpn"]);
		const auto* echo = c.plugin("echo");
		const auto* peerjs = c.plugin("peerjs");
		CPPUNIT_ASSERT(echo && peerjs);
		CPPUNIT_ASSERT(echo->enabled && peerjs->enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("main"), echo->listener);
		CPPUNIT_ASSERT_EQUAL(std::string("/echo"), echo->prefix);
		CPPUNIT_ASSERT_EQUAL(std::string("main"), peerjs->listener);
		CPPUNIT_ASSERT_EQUAL(std::string("/peerjs"), peerjs->prefix);
		const auto* govpn = c.plugin("govpn");
		CPPUNIT_ASSERT(govpn && govpn->enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("govpn"), govpn->listener);
		CPPUNIT_ASSERT_EQUAL(std::string(), govpn->prefix);
		const auto* together = c.plugin("together");
		CPPUNIT_ASSERT(together && together->enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("together"), together->listener);
		const auto* peervault = c.plugin("peervault");
		CPPUNIT_ASSERT(peervault && peervault->enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("peervault"), peervault->listener);
		// PeerVault's documented variables reach its keys through [environment].
		HostConfig fromEnvironment;
		CPPUNIT_ASSERT_MESSAGE(error,
		                       HostConfig::load(path, {{"PEERVAULT_WS_PORT", "18083"}}, {}, fromEnvironment, error));
		CPPUNIT_ASSERT_EQUAL(std::string("environment (PEERVAULT_WS_PORT, through [environment])"),
		                     fromEnvironment.origin("listener.peervault.port"));
	}

	void testIniSyntax()
	{
		std::istringstream in("; comment\n"
		                      "# also a comment\n"
		                      "top = 1\n"
		                      "  [ Plugin.Echo ]  \n"
		                      "\tGreeting =  hi = there ; not a comment \r\n"
		                      "empty =\n"
		                      "\n"
		                      "[host]\n"
		                      "log_level=debug\n"
		                      "[plugin.echo]\n");
		IniFile file;
		std::vector<std::string> errors;
		IniFile::parse(in, "x.ini", file, errors);
		CPPUNIT_ASSERT(errors.empty());

		CPPUNIT_ASSERT_EQUAL(std::size_t(3), file.sections().size()); // a repeated header too
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.echo"), file.sections()[0].name);
		CPPUNIT_ASSERT_EQUAL(4, file.sections()[0].line);
		CPPUNIT_ASSERT_EQUAL(std::string("host"), file.sections()[1].name);
		CPPUNIT_ASSERT_EQUAL(8, file.sections()[1].line);
		CPPUNIT_ASSERT_EQUAL(10, file.sections()[2].line);

		const auto& e = file.entries();
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), e.size());
		CPPUNIT_ASSERT_EQUAL(std::string("top"), e[0].fullKey()); // above the first section
		CPPUNIT_ASSERT_EQUAL(3, e[0].line);
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.echo.greeting"), e[1].fullKey());
		CPPUNIT_ASSERT_EQUAL(std::string("hi = there ; not a comment"), e[1].value);
		CPPUNIT_ASSERT_EQUAL(5, e[1].line);
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.echo.empty"), e[2].fullKey());
		CPPUNIT_ASSERT_EQUAL(std::string(), e[2].value);
		CPPUNIT_ASSERT_EQUAL(std::string("host.log_level"), e[3].fullKey());
		CPPUNIT_ASSERT_EQUAL(std::string("debug"), e[3].value);
		CPPUNIT_ASSERT_EQUAL(9, e[3].line);
		CPPUNIT_ASSERT_EQUAL(std::string("x.ini:9"), file.origin(9));

		// A '#' comment is accepted by the loader too, and the later of two equal keys wins.
		TempConfig twice("# hash comment\n[host]\nlog_level = debug\nlog_level = error\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(twice.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("error"), c.settings().logLevel);
		CPPUNIT_ASSERT_EQUAL(twice.path() + ":4", c.origin("host.log_level"));
	}

	void testFileErrorNamesLine()
	{
		// Comments and blank lines count; the error points at the key's own line.
		expectFileError("; header\n\n[host]\n# note\nlog_level = debug\n\nworker_threads = many\n", 7,
		                "host.worker_threads", "expected an integer between 1 and 256, got \"many\"");
		// A repeated key is reported where its effective (later) value is.
		expectFileError("[http]\nmax_threads = 8\nmax_threads = 0\n", 3, "http.max_threads",
		                "expected an integer between 1 and 1024");
		// Every error of a file names its own line.
		TempConfig file("[host]\nworker_threads = 0\n\nlog_level = loud\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(file.path() +
		                         ":4: host.log_level: expected one of trace, debug, information, notice, "
		                         "warning, error, got \"loud\"\n" +
		                         file.path() +
		                         ":2: host.worker_threads: expected an integer between 1 and 256, got \"0\"",
		                     error);
	}

	void testMalformedLine()
	{
		TempConfig file("[host]\nlog_level debug\n[listener.main\nport = 9000\n= 3\n[host] x\n[]\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {}, {}, c, error));
		std::string p = file.path();
		CPPUNIT_ASSERT_EQUAL(p + ":2: expected key = value, [section] or a comment, got \"log_level debug\"\n" + p +
		                         ":3: expected a section header [name], got \"[listener.main\"\n" + p +
		                         ":5: expected key = value, [section] or a comment, got \"= 3\"\n" + p +
		                         ":6: expected a section header [name], got \"[host] x\"\n" + p +
		                         ":7: expected a section header [name], got \"[]\"",
		                     error);

		// Only the syntax errors are reported: with a broken line the rest cannot be trusted.
		TempConfig mixed("[host]\nworker_threads = 0\noops\n");
		CPPUNIT_ASSERT(!HostConfig::load(mixed.path(), {}, {}, c, error));
		assertOneLine(error, mixed.path() + ":3: ", "expected key = value");
	}

	void testKeyRowDrivesField()
	{
		// One table row gives host.worker_threads its type, default, range and destination,
		// whichever layer the value comes from.
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(4, c.settings().workerThreads);

		TempConfig file("[host]\nworker_threads = 12\n");
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(12, c.settings().workerThreads);

		CPPUNIT_ASSERT_MESSAGE(
		    error, HostConfig::load(file.path(), {{"SWITCHBOARD_HOST__WORKER_THREADS", "13"}}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(13, c.settings().workerThreads);

		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {{"SWITCHBOARD_HOST__WORKER_THREADS", "13"}},
		                                               {"host.worker_threads=256"}, c, error));
		CPPUNIT_ASSERT_EQUAL(256, c.settings().workerThreads);

		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host.worker_threads=257"}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("command line: host.worker_threads: expected an integer between 1 and 256, "
		                                 "got \"257\""),
		                     error);

		// Rows bind keys to fields of other sections and of nested settings, converting types.
		Args args{"websocket.handshake_timeout_ms=700",
		          "host.on_plugin_failure=skip",
		          "host.poller=pollset",
		          "websocket.high_watermark=1000",
		          "websocket.low_watermark=10",
		          "admin.port=0",
		          "listener.main.port=9000",
		          "listener.main.backlog=7",
		          "plugin.echo.prefix=/e",
		          "plugin.off.enabled=no"};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load("", {}, args, c, error));
		const ServerSettings& s = c.settings();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(700), s.http.requestTimeoutMs);
		CPPUNIT_ASSERT(!s.abortOnPluginFailure);
		CPPUNIT_ASSERT_EQUAL(std::string("pollset"), s.transport.poller);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1000), s.transport.highWatermark);
		CPPUNIT_ASSERT_EQUAL(std::size_t(10), s.transport.lowWatermark);
		CPPUNIT_ASSERT_EQUAL(0, s.adminPort);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.listeners.size());
		CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0"), s.listeners[0].address); // the row's default
		CPPUNIT_ASSERT_EQUAL(9000, s.listeners[0].port);
		CPPUNIT_ASSERT_EQUAL(7, s.listeners[0].backlog);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), s.plugins.size()); // the disabled one is not mounted
		CPPUNIT_ASSERT_EQUAL(std::string("echo"), s.plugins[0].name);
		CPPUNIT_ASSERT_EQUAL(std::string("main"), s.plugins[0].listener);
		CPPUNIT_ASSERT_EQUAL(std::string("/e"), s.plugins[0].prefix);
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.plugins().size());
	}

	void testValidateSectionMessages()
	{
		using Values = std::map<std::string, std::string, std::less<>>;
		Values values{{"stale", "x"}};
		std::vector<std::string> errors;
		CPPUNIT_ASSERT(
		    ConfigRules::validateSection(ECHO_KEYS, std::size(ECHO_KEYS), {{"max_size", "9"}}, values, errors));
		CPPUNIT_ASSERT(errors.empty());
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), values.size()); // every declared key, nothing else
		CPPUNIT_ASSERT_EQUAL(std::string("9"), values["max_size"]);
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), values["greeting"]);
		CPPUNIT_ASSERT_EQUAL(std::string(), values["tags"]);

		Values given{{"rounds", "0"}, {"colour", "blue"}, {"rounds_", "1"}};
		errors.assign(1, "earlier");
		CPPUNIT_ASSERT(!ConfigRules::validateSection(STRICT_KEYS, std::size(STRICT_KEYS), given, values, errors));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), errors.size());
		CPPUNIT_ASSERT_EQUAL(std::string("earlier"), errors[0]); // appended, not replaced
		CPPUNIT_ASSERT_EQUAL(std::string("colour: unknown key (accepts: secret, rounds)"), errors[1]);
		CPPUNIT_ASSERT_EQUAL(std::string("rounds: expected an integer between 1 and 100, got \"0\""), errors[2]);
		CPPUNIT_ASSERT_EQUAL(std::string("rounds_: unknown key (accepts: secret, rounds)"), errors[3]);
		CPPUNIT_ASSERT_EQUAL(std::string("secret: missing required key (expected a string)"), errors[4]);

		// The caller may word the accepted names, as the host does.
		errors.clear();
		ConfigRules::validateSection(STRICT_KEYS, std::size(STRICT_KEYS), {{"x", ""}, {"secret", "s"}}, values, errors,
		                             "plugin vault accepts: enabled, secret, rounds");
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), errors.size());
		CPPUNIT_ASSERT_EQUAL(std::string("x: unknown key (plugin vault accepts: enabled, secret, rounds)"), errors[0]);

		// Declarations and defaults as the user sees them.
		CPPUNIT_ASSERT_EQUAL(std::string("required"), ConfigRules::defaultText(STRICT_KEYS[0]));
		CPPUNIT_ASSERT_EQUAL(std::string("empty"), ConfigRules::defaultText(ECHO_KEYS[4]));
		CPPUNIT_ASSERT_EQUAL(std::string("10"), ConfigRules::defaultText(STRICT_KEYS[1]));
		CPPUNIT_ASSERT_EQUAL(std::string(),
		                     ConfigRules::checkDeclarations(ECHO_KEYS, std::size(ECHO_KEYS), {"enabled"}));
		const ConfigKey badName[] = {{"Bad\"Name", ConfigType::STRING, "", "", 0, 0}};
		CPPUNIT_ASSERT_EQUAL(std::string("key \"Bad\\\"Name\" is not a valid name (expected [a-z0-9_]+ segments "
		                                 "separated by dots, e.g. ws.max_bytes)"),
		                     ConfigRules::checkDeclarations(badName, 1, {}));
	}

	void testKeyNames()
	{
		using Switchboard::Names::isKeyName;
		for (const char* good :
		     {"a", "greeting", "max_2", "_", "ws.heartbeat_timeout", "ws.send_queue.max_bytes", "a.b.c.d", "0.1"})
			CPPUNIT_ASSERT_MESSAGE(good, isKeyName(good));
		for (const char* bad :
		     {"", ".", "..", ".ws", "ws.", "ws..timeout", "ws.Timeout", "ws-timeout", "ws. x", "ws.x/", "a.b.", " a"})
			CPPUNIT_ASSERT_MESSAGE(bad, !isKeyName(bad));
		// Section names (plugins, listeners) stay undotted.
		CPPUNIT_ASSERT(!Switchboard::Names::isSectionName("ws.timeout"));
	}

	void testDottedKeyDeclarations()
	{
		CPPUNIT_ASSERT_EQUAL(std::string(), ConfigRules::checkDeclarations(DOTTED_KEYS, std::size(DOTTED_KEYS), {}));
		std::string expected =
		    " is not a valid name (expected [a-z0-9_]+ segments separated by dots, e.g. ws.max_bytes)";
		for (const char* bad : {"ws.", ".ws", "ws..x", "ws.X", "."})
		{
			const ConfigKey key[] = {{bad, ConfigType::STRING, "", "", 0, 0}};
			CPPUNIT_ASSERT_EQUAL("key " + Switchboard::Json::quote(bad) + expected,
			                     ConfigRules::checkDeclarations(key, 1, {}));
		}
		// Host-owned names are refused exactly; a dotted name that starts with one is the plugin's.
		const ConfigKey owned[] = {{"enabled.x", ConfigType::STRING, "", "", 0, 0},
		                           {"prefix.path", ConfigType::STRING, "", "", 0, 0}};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, c, error));
		Config config;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("p", owned, std::size(owned), config, error));
		const ConfigKey twice[] = {{"ws.a", ConfigType::STRING, "", "", 0, 0},
		                           {"ws.a", ConfigType::STRING, "", "", 0, 0}};
		CPPUNIT_ASSERT(!c.validatePlugin("p", twice, 2, config, error));
		CPPUNIT_ASSERT_EQUAL(std::string("plugin p: invalid configuration declaration: key \"ws.a\" is declared twice"),
		                     error);
		const ConfigKey invalid[] = {{"ws..a", ConfigType::STRING, "", "", 0, 0}};
		CPPUNIT_ASSERT(!c.validatePlugin("p", invalid, 1, config, error));
		CPPUNIT_ASSERT_EQUAL("plugin p: invalid configuration declaration: key \"ws..a\"" + expected, error);
	}

	void testDottedKeysFromEverySource()
	{
		// The file, under [plugin.<name>], keys written whole (names are case-insensitive).
		TempConfig file("[listener.main]\nport = 9000\n[plugin.together]\nWS.Heartbeat_Timeout = 2\n"
		                "ws.send_queue.max_bytes = 100\nws = off\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		Config config;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), config.values().size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), config.getInt("ws.heartbeat_timeout"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(100), config.getInt("ws.send_queue.max_bytes"));
		CPPUNIT_ASSERT_EQUAL(5.0, config.getDouble("auth_rate_limit.per_second")); // the default
		CPPUNIT_ASSERT(!config.getBool("ws"));
		CPPUNIT_ASSERT_EQUAL(file.path() + ":4", c.origin("plugin.together.ws.heartbeat_timeout"));

		// The environment: every '.' of the key is "__".
		CPPUNIT_ASSERT_EQUAL(std::string("plugin.together.ws.heartbeat_timeout"),
		                     HostConfig::environmentKey("SWITCHBOARD_PLUGIN__TOGETHER__WS__HEARTBEAT_TIMEOUT"));
		Env env{{"SWITCHBOARD_PLUGIN__TOGETHER__WS__HEARTBEAT_TIMEOUT", "7"},
		        {"SWITCHBOARD_PLUGIN__TOGETHER__AUTH_RATE_LIMIT__PER_SECOND", "0.5"}};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, {}, c, error));
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(7), config.getInt("ws.heartbeat_timeout"));
		CPPUNIT_ASSERT_EQUAL(0.5, config.getDouble("auth_rate_limit.per_second"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(100), config.getInt("ws.send_queue.max_bytes"));
		CPPUNIT_ASSERT_EQUAL(std::string("environment (SWITCHBOARD_PLUGIN__TOGETHER__WS__HEARTBEAT_TIMEOUT)"),
		                     c.origin("plugin.together.ws.heartbeat_timeout"));

		// The command line beats both; the section may exist only there.
		Args args{"plugin.together.ws.heartbeat_timeout=9", "plugin.together.ws.send_queue.max_bytes = 64"};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), env, args, c, error));
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(9), config.getInt("ws.heartbeat_timeout"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(64), config.getInt("ws.send_queue.max_bytes"));
		CPPUNIT_ASSERT_EQUAL(std::string("command line"), c.origin("plugin.together.ws.heartbeat_timeout"));
		CPPUNIT_ASSERT_MESSAGE(
		    error, HostConfig::load("", {}, {"listener.main.port=9000", "plugin.together.ws=yes"}, c, error));
		CPPUNIT_ASSERT(c.plugin("together"));
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT(config.getBool("ws"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(30), config.getInt("ws.heartbeat_timeout"));

		// The host-owned keys keep their meaning beside dotted keys.
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {"plugin.together.prefix=/t"}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("/t"), c.plugin("together")->prefix);
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT(!config.has("prefix"));
	}

	void testDottedKeyErrors()
	{
		TempConfig file("[listener.main]\nport = 9000\n[plugin.together]\nws.heartbeat_timeout = 0\n"
		                "ws.heartbeat = 1\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		Config config;
		CPPUNIT_ASSERT(!c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(file.path() +
		                         ":5: plugin.together.ws.heartbeat: unknown key (plugin together accepts: enabled, "
		                         "listener, prefix, ws.heartbeat_timeout, ws.send_queue.max_bytes, "
		                         "auth_rate_limit.per_second, ws, motd)\n" +
		                         file.path() +
		                         ":4: plugin.together.ws.heartbeat_timeout: expected an integer between 1 and 3600, "
		                         "got \"0\"",
		                     error);

		Env env{{"SWITCHBOARD_PLUGIN__TOGETHER__WS__SEND_QUEUE__MAX_BYTES", "huge"}};
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load("", env, {"listener.main.port=9000"}, c, error));
		CPPUNIT_ASSERT(!c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), config, error));
		CPPUNIT_ASSERT_EQUAL(std::string("environment (SWITCHBOARD_PLUGIN__TOGETHER__WS__SEND_QUEUE__MAX_BYTES): "
		                                 "plugin.together.ws.send_queue.max_bytes: expected an integer between 1 and "
		                                 "1048576, got \"huge\""),
		                     error);

		// A header naming a sub-section is not a second spelling of the dotted key.
		TempConfig nested("[listener.main]\nport = 9000\n[plugin.together.ws]\nheartbeat_timeout = 2\n");
		CPPUNIT_ASSERT(!HostConfig::load(nested.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(nested.path() +
		                         ":4: plugin.together.ws.heartbeat_timeout: [plugin.together.ws] is not a plugin "
		                         "section (expected the key written as ws.heartbeat_timeout under [plugin.together])",
		                     error);

		// Host sections keep undotted keys.
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"listener.main.port=9000", "listener.main.tls.key=x"}, c, error));
		assertOneLine(error, "command line: listener.main.tls.key: ", "unknown key ([listener.main] accepts:");
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host.log.level=debug"}, c, error));
		assertOneLine(error, "command line: host.log.level: ", "unknown key ([host] accepts:");
	}

	void testDottedKeysRender()
	{
		TempConfig file("[listener.main]\nport = 9000\n[plugin.together]\nws.heartbeat_timeout = 2\n"
		                "[plugin.ghost]\nws.colour = blue\n");
		Args args{"plugin.together.auth_rate_limit.per_second=0.25"};
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, args, c, error));
		std::map<std::string, PluginSchema> schemas{{"together", {DOTTED_KEYS, std::size(DOTTED_KEYS)}}};
		std::string text = c.render(schemas);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("; seconds without a heartbeat before the close (default: 30)\n"
		                                       "ws.heartbeat_timeout = 2\n") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("; set by command line\nauth_rate_limit.per_second = 0.25\n") !=
		                                 std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nws.send_queue.max_bytes = 65536\n") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nws = true\n") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nws.colour = blue\n") != std::string::npos); // not validated
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nheartbeat_timeout =") == std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nmax_bytes =") == std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\nper_second =") == std::string::npos);

		// The rendered file loads to the same values.
		TempConfig rendered(text);
		HostConfig again;
		CPPUNIT_ASSERT_MESSAGE(error + "\n" + text, HostConfig::load(rendered.path(), {}, {}, again, error));
		Config a, b;
		CPPUNIT_ASSERT_MESSAGE(error, c.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), a, error));
		CPPUNIT_ASSERT_MESSAGE(error, again.validatePlugin("together", DOTTED_KEYS, std::size(DOTTED_KEYS), b, error));
		CPPUNIT_ASSERT(a.values() == b.values());
		CPPUNIT_ASSERT_EQUAL(std::string("0.25"), b.getString("auth_rate_limit.per_second"));
		CPPUNIT_ASSERT_EQUAL(stripComments(text), stripComments(again.render(schemas)));
	}

	void testControlCharactersInKeysGiveOneLineErrors()
	{
		// Found by the config fuzzer: a newline in a variable's name or a --set key split one problem
		// over several lines (HostConfig promises one line per problem).
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(!HostConfig::load("", {{"SWITCHBOARD_HOST__LOG\nLEVEL", "debug"}}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(
		    std::string("environment (\"SWITCHBOARD_HOST__LOG\\nLEVEL\"): not a configuration key (printable "
		                "characters only, e.g. host.log_level)"),
		    error);
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host.log\nlevel=debug"}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("command line: \"host.log\\nlevel\": not a configuration key (printable "
		                                 "characters only, e.g. host.log_level)"),
		                     error);
		CPPUNIT_ASSERT(!HostConfig::load("", {}, {"host\nlevel"}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::string("command line: --set: expected key=value, got \"host\\nlevel\""), error);
	}

	void testListenerJsonErrors()
	{
		TempConfig file("[listener.api]\nport = 9000\njson_errors = yes\n[listener.web]\nport = 9001\n");
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), c.listeners().size());
		CPPUNIT_ASSERT(c.listeners()[0].jsonErrors);  // api
		CPPUNIT_ASSERT(!c.listeners()[1].jsonErrors); // web: false by default
		CPPUNIT_ASSERT(HostConfig::load(file.path(), {{"SWITCHBOARD_LISTENER__WEB__JSON_ERRORS", "on"}},
		                                {"listener.api.json_errors=false"}, c, error));
		CPPUNIT_ASSERT(!c.listeners()[0].jsonErrors);
		CPPUNIT_ASSERT(c.listeners()[1].jsonErrors);
		CPPUNIT_ASSERT(!HostConfig::load(file.path(), {}, {"listener.api.json_errors=maybe"}, c, error));
		assertOneLine(error, "command line: listener.api.json_errors: ", "expected a boolean");
		HostConfig given;
		CPPUNIT_ASSERT(HostConfig::load(file.path(), {}, {}, given, error));
		std::string text = given.render();
		CPPUNIT_ASSERT_MESSAGE(text, text.find("\njson_errors = yes\n") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(text, text.find("(default: false)\njson_errors = false\n") != std::string::npos);
	}

private:
	static void assertOneLine(const std::string& error, const std::string& start, const std::string& fragment)
	{
		CPPUNIT_ASSERT_MESSAGE(error, error.find('\n') == std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(error, error.compare(0, start.size(), start) == 0);
		CPPUNIT_ASSERT_MESSAGE(error, error.find(fragment) != std::string::npos);
	}

	static void expectFileError(const std::string& content, int line, const std::string& key,
	                            const std::string& fragment)
	/// Loading content fails with one error that names line and key and contains fragment.
	{
		TempConfig file(content);
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT_MESSAGE(content, !HostConfig::load(file.path(), {}, {}, c, error));
		assertOneLine(error, file.path() + ":" + std::to_string(line) + ": " + key + ": ", fragment);
	}

	static std::string stripComments(const std::string& text)
	{
		std::istringstream in(text);
		std::string out;
		for (std::string line; std::getline(in, line);)
		{
			if (!line.empty() && line[0] != ';')
				out += line + "\n";
		}
		return out;
	}

	void testClusterSection()
	{
		// Off by default: a single node needs no Redis.
		HostConfig c;
		std::string error;
		CPPUNIT_ASSERT(HostConfig::load("", {}, {}, c, error));
		CPPUNIT_ASSERT(!c.settings().cluster.enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("switchboard:"), c.settings().cluster.keyPrefix);
		CPPUNIT_ASSERT_EQUAL(15, c.settings().cluster.nodeTtlSeconds);

		TempConfig file("[cluster]\nenabled = true\nnode_id = node-1.eu\nredis_port = 6380\nredis_password = s3cret\n"
		                "key_prefix = prod:\nnode_ttl_s = 4\n");
		CPPUNIT_ASSERT_MESSAGE(error, HostConfig::load(file.path(), {}, {}, c, error));
		const auto& k = c.settings().cluster;
		CPPUNIT_ASSERT(k.enabled);
		CPPUNIT_ASSERT_EQUAL(std::string("node-1.eu"), k.nodeId);
		CPPUNIT_ASSERT_EQUAL(6380, k.redisPort);
		CPPUNIT_ASSERT_EQUAL(std::string("s3cret"), k.redisPassword);
		CPPUNIT_ASSERT_EQUAL(std::string("prod:"), k.keyPrefix);
		CPPUNIT_ASSERT_EQUAL(4, k.nodeTtlSeconds);

		// Each bad value: refused with one line naming the key.
		const std::pair<const char*, const char*> bad[] = {
		    {"cluster.node_id=bad id!", "cluster.node_id"},
		    {"cluster.node_id="
		     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		     "cluster.node_id"},
		    {"cluster.key_prefix=a b", "cluster.key_prefix"},
		    {"cluster.redis_port=0", "cluster.redis_port"},
		    {"cluster.node_ttl_s=1", "cluster.node_ttl_s"},
		    {"cluster.enabled=maybe", "cluster.enabled"},
		    {"cluster.publish_queue_limit=1", "cluster.publish_queue_limit"},
		};
		for (const auto& b : bad)
		{
			HostConfig refused;
			CPPUNIT_ASSERT_MESSAGE(b.first, !HostConfig::load("", {}, {b.first}, refused, error));
			CPPUNIT_ASSERT_MESSAGE(error, error.find(b.second) != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(error, error.find('\n') == std::string::npos);
		}
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(ConfigTest);

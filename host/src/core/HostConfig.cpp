//
// HostConfig.cpp
//
// The host's configuration: loading, layering, validation and rendering.
//


#include "core/HostConfig.h"
#include "core/ConfigSchema.h"
#include "Poco/AutoPtr.h"
#include "Poco/Exception.h"
#include "Poco/File.h"
#include "Poco/Net/IPAddress.h"
#include "Poco/Net/SocketDefs.h"
#include "Poco/Util/IniFileConfiguration.h"
#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>


#if defined(_WIN32)
#include <stdlib.h>
#define SWITCHBOARD_ENVIRON _environ
#else
extern char** environ;
#define SWITCHBOARD_ENVIRON environ
#endif


namespace Switchboard {
namespace Core {


namespace {


using Switchboard::ConfigKey;
using Switchboard::ConfigType;


enum class Check
{
	NONE,
	IP_ADDRESS, // Poco::Net::IPAddress literal: no name resolution at startup
	PATH_PREFIX // "" or "/a/b": how a plugin is mounted
};


struct HostKey
// A host key: the SDK declaration (so host and plugin keys share one validator) plus what the
// SDK's ConfigKey cannot say.
{
	ConfigKey key;
	const char* allowed; // "a|b" or nullptr
	Check check;
};


const HostKey HOST_KEYS[] = {
    {{"event_loops", ConfigType::INTEGER, "0",
      "event loops (threads) serving WebSocket connections; 0 = one per CPU core but one, at least one", 0, 256},
     nullptr,
     Check::NONE},
    {{"worker_threads", ConfigType::INTEGER, "4", "threads running blocking work (storage, offloaded plugin tasks)", 1,
      256},
     nullptr,
     Check::NONE},
    {{"log_level", ConfigType::STRING, "information", "lowest severity written to the log", 0, 0},
     "trace|debug|information|notice|warning|error",
     Check::NONE},
    {{"shutdown_deadline_ms", ConfigType::INTEGER, "5000",
      "milliseconds shutdown waits for connections to close and plugins to stop", 100, 600000},
     nullptr,
     Check::NONE},
    {{"on_plugin_failure", ConfigType::STRING, "abort",
      "when a plugin fails to load or start: abort = the host exits, skip = the host runs without it", 0, 0},
     "abort|skip",
     Check::NONE},
    {{"plugin_dir", ConfigType::STRING, "",
      "directory of plugin libraries; empty = the build tree's plugins when run from the build tree, else the "
      "installed directory",
      0, 0},
     nullptr,
     Check::NONE},
    {{"poller", ConfigType::STRING, "epoll",
      "readiness backend of the event loops: epoll (Linux, fastest) or pollset (Poco::Net::PollSet, portable)", 0, 0},
     "epoll|pollset",
     Check::NONE},
    {{"max_connections", ConfigType::INTEGER, "0",
      "most concurrent WebSocket connections; 0 = derived from the open-file limit (RLIMIT_NOFILE)", 0, 10000000},
     nullptr,
     Check::NONE},
};

const HostKey STORAGE_KEYS[] = {
    {{"backend", ConfigType::STRING, "sqlite", "storage backend for plugin data", 0, 0}, "sqlite", Check::NONE},
    {{"directory", ConfigType::STRING, "./data",
      "directory of the storage files; a relative path is relative to the working directory", 0, 0},
     nullptr,
     Check::NONE},
};

const HostKey HTTP_KEYS[] = {
    {{"max_threads", ConfigType::INTEGER, "16", "threads serving HTTP requests and WebSocket handshakes", 1, 1024},
     nullptr,
     Check::NONE},
    {{"max_queued", ConfigType::INTEGER, "256", "accepted connections waiting for a thread; more are refused", 1,
      100000},
     nullptr,
     Check::NONE},
    {{"max_body_size", ConfigType::INTEGER, "1048576", "largest HTTP request body in bytes", 1, 1073741824},
     nullptr,
     Check::NONE},
    {{"keep_alive", ConfigType::BOOLEAN, "true", "whether HTTP connections are kept open between requests", 0, 0},
     nullptr,
     Check::NONE},
};

const HostKey WEBSOCKET_KEYS[] = {
    {{"max_message_size", ConfigType::INTEGER, "1048576",
      "largest message in bytes (summed over fragments); larger ones close the connection with 1009", 1, 1073741824},
     nullptr,
     Check::NONE},
    {{"idle_timeout_ms", ConfigType::INTEGER, "120000",
      "milliseconds without any inbound frame before a connection is closed; 0 = never", 0, 86400000},
     nullptr,
     Check::NONE},
    {{"ping_interval_ms", ConfigType::INTEGER, "30000", "milliseconds between server pings; 0 = never", 0, 86400000},
     nullptr,
     Check::NONE},
    {{"close_timeout_ms", ConfigType::INTEGER, "3000",
      "milliseconds to wait for the peer's close frame or FIN after a close", 100, 60000},
     nullptr,
     Check::NONE},
    {{"high_watermark", ConfigType::INTEGER, "262144",
      "queued output bytes above which the plugin is told to pause sending", 1, 1073741824},
     nullptr,
     Check::NONE},
    {{"low_watermark", ConfigType::INTEGER, "65536",
      "queued output bytes below which a paused plugin is told to resume; below high_watermark", 0, 1073741824},
     nullptr,
     Check::NONE},
    {{"max_output_queue", ConfigType::INTEGER, "1048576",
      "queued output bytes above which the connection is closed with 1008; at least high_watermark", 1, 1073741824},
     nullptr,
     Check::NONE},
    {{"handshake_timeout_ms", ConfigType::INTEGER, "10000",
      "milliseconds a client has to complete the HTTP upgrade request", 100, 600000},
     nullptr,
     Check::NONE},
};

const HostKey ADMIN_KEYS[] = {
    {{"enabled", ConfigType::BOOLEAN, "true", "whether the admin listener (/metrics, /health) runs", 0, 0},
     nullptr,
     Check::NONE},
    {{"address", ConfigType::STRING, "127.0.0.1", "IP address the admin listener binds to", 0, 0},
     nullptr,
     Check::IP_ADDRESS},
    {{"port", ConfigType::INTEGER, "9090", "TCP port of the admin listener; 0 = any free port", 0, 65535},
     nullptr,
     Check::NONE},
};

const HostKey LISTENER_KEYS[] = {
    {{"address", ConfigType::STRING, "0.0.0.0", "IP address to bind; 0.0.0.0 = every IPv4 address, :: = every address",
      0, 0},
     nullptr,
     Check::IP_ADDRESS},
    {{"port", ConfigType::INTEGER, nullptr, "TCP port; 0 = any free port", 0, 65535}, nullptr, Check::NONE},
    {{"backlog", ConfigType::INTEGER, "1024", "length of the kernel's queue of connections not yet accepted", 1, 65535},
     nullptr,
     Check::NONE},
};

const HostKey PLUGIN_HOST_KEYS[] = {
    {{"enabled", ConfigType::BOOLEAN, "true", "whether the plugin is loaded and started", 0, 0}, nullptr, Check::NONE},
    {{"listener", ConfigType::STRING, "",
      "name of the [listener.<name>] the plugin is mounted on; empty = the only listener", 0, 0},
     nullptr,
     Check::NONE},
    {{"prefix", ConfigType::STRING, "",
      "path prefix of the plugin's routes; empty = the root, else starting with '/' and not ending with '/'", 0, 0},
     nullptr,
     Check::PATH_PREFIX},
};


struct FixedSection
{
	const char* name;
	const char* description;
	const HostKey* keys;
	std::size_t count;
};

const FixedSection FIXED_SECTIONS[] = {
    {"host", "The process: threads, logging, shutdown, plugins.", HOST_KEYS, std::size(HOST_KEYS)},
    {"storage", "Where plugins' persistent data lives.", STORAGE_KEYS, std::size(STORAGE_KEYS)},
    {"http", "The HTTP server in front of every listener.", HTTP_KEYS, std::size(HTTP_KEYS)},
    {"websocket", "Limits and timers of every WebSocket connection.", WEBSOCKET_KEYS, std::size(WEBSOCKET_KEYS)},
    {"admin", "The admin listener: Prometheus /metrics and /health.", ADMIN_KEYS, std::size(ADMIN_KEYS)},
};

const char* const KNOWN_SECTIONS = "host, storage, http, websocket, admin, listener.<name> or plugin.<name>";
const char* const LISTENER_PREFIX = "listener.";
const char* const PLUGIN_PREFIX = "plugin.";


std::string lower(std::string s)
{
	for (char& c : s)
		c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	return s;
}


std::string trimmed(std::string_view s)
{
	return std::string(ConfigParse::trim(s));
}


bool startsWith(const std::string& s, const char* prefix)
{
	return s.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}


const HostKey* findKey(const HostKey* keys, std::size_t count, const std::string& name)
{
	for (std::size_t i = 0; i < count; ++i)
	{
		if (name == keys[i].key.name)
			return &keys[i];
	}
	return nullptr;
}


const FixedSection* findFixed(const std::string& name)
{
	for (const auto& s : FIXED_SECTIONS)
	{
		if (name == s.name)
			return &s;
	}
	return nullptr;
}


std::string joinNames(const HostKey* keys, std::size_t count)
{
	std::string out;
	for (std::size_t i = 0; i < count; ++i)
		out += (i ? ", " : "") + std::string(keys[i].key.name);
	return out;
}


std::string join(const std::vector<std::string>& items)
{
	std::string out;
	for (std::size_t i = 0; i < items.size(); ++i)
		out += (i ? ", " : "") + items[i];
	return out;
}


void splitKey(const std::string& key, std::string& section, std::string& name)
// "host.log_level" -> host / log_level; "plugin.echo.greeting" -> plugin.echo / greeting.
// Listener and plugin sections have two components, so a stray dot in a key name shows up
// as an unknown key of the right section instead of a strange section.
{
	std::size_t first = key.find('.');
	if (first == std::string::npos)
	{
		section.clear();
		name = key;
		return;
	}
	std::string head = key.substr(0, first);
	std::size_t split = first;
	if (head == "listener" || head == "plugin")
	{
		std::size_t second = key.find('.', first + 1);
		if (second != std::string::npos)
			split = second;
	}
	section = key.substr(0, split);
	name = key.substr(split + 1);
}


bool isWellFormedSection(const std::string& section)
{
	if (findFixed(section))
		return true;
	if (startsWith(section, LISTENER_PREFIX))
		return ConfigSchema::isValidName(section.substr(std::char_traits<char>::length(LISTENER_PREFIX)));
	if (startsWith(section, PLUGIN_PREFIX))
		return ConfigSchema::isValidName(section.substr(std::char_traits<char>::length(PLUGIN_PREFIX)));
	return false;
}


bool parseAddress(const std::string& text, Poco::Net::IPAddress& address)
// Poco 1.11's IPAddress::tryParse() rejects "::" (the IPv6 wildcard), so IPv6 literals fall
// back to inet_pton.
{
	if (Poco::Net::IPAddress::tryParse(text, address))
		return true;
	struct in6_addr raw;
	if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), &raw) != 1)
		return false;
	address = Poco::Net::IPAddress(&raw, sizeof(raw));
	return true;
}


bool validPrefix(const std::string& prefix)
{
	if (prefix.empty())
		return true;
	if (prefix.front() != '/' || prefix.back() == '/' || prefix.find("//") != std::string::npos)
		return false;
	for (char c : prefix)
	{
		if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#' || c == 0x7f)
			return false;
	}
	return true;
}


bool extraCheck(Check check, const std::string& value, std::string& expected)
{
	switch (check)
	{
		case Check::NONE:
			return true;
		case Check::IP_ADDRESS:
		{
			Poco::Net::IPAddress address;
			if (parseAddress(value, address))
				return true;
			expected = "an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::)";
			return false;
		}
		case Check::PATH_PREFIX:
			if (validPrefix(value))
				return true;
			expected = "a path prefix: empty for the root, or starting with '/' and not ending with '/' (e.g. /echo)";
			return false;
	}
	return true;
}


bool checkHostValue(const HostKey& key, const std::string& value, std::string& expected)
{
	const char* allowed = key.allowed ? key.allowed : "";
	if (!ConfigSchema::checkValue(key.key, value, allowed))
	{
		expected = ConfigSchema::expectation(key.key, allowed);
		return false;
	}
	return extraCheck(key.check, value, expected);
}


std::string valueError(const std::string& origin, const std::string& key, const std::string& expected,
                       const std::string& value)
{
	return origin + ": " + key + ": expected " + expected + ", got " + ConfigSchema::quote(value);
}


std::int64_t toInt(const std::string& value, std::int64_t fallback)
{
	std::int64_t v = 0;
	return ConfigParse::parseInteger(value, v) ? v : fallback;
}


bool toBool(const std::string& value, bool fallback)
{
	bool b = false;
	return ConfigParse::parseBoolean(value, b) ? b : fallback;
}


bool addressesClash(const std::string& a, const std::string& b)
// Two binds on one port fail (or, with SO_REUSEPORT, silently share traffic) when the
// addresses are equal or one is a wildcard covering the other; :: covers IPv4 too (dual stack).
{
	Poco::Net::IPAddress x, y;
	if (!parseAddress(a, x) || !parseAddress(b, y))
		return a == b;
	if (x == y)
		return true;
	if (x.isWildcard() && (x.family() == Poco::Net::IPAddress::IPv6 || y.family() == x.family()))
		return true;
	if (y.isWildcard() && (y.family() == Poco::Net::IPAddress::IPv6 || x.family() == y.family()))
		return true;
	return false;
}


std::string endpoint(const std::string& address, int port)
{
	if (address.find(':') != std::string::npos)
		return "[" + address + "]:" + std::to_string(port);
	return address + ":" + std::to_string(port);
}


void collectKeys(const Poco::Util::AbstractConfiguration& config, const std::string& prefix,
                 std::vector<std::pair<std::string, std::string>>& out)
{
	Poco::Util::AbstractConfiguration::Keys keys;
	config.keys(prefix, keys);
	for (const auto& k : keys)
	{
		std::string full = prefix.empty() ? k : prefix + "." + k;
		if (config.hasProperty(full))
			out.emplace_back(full, config.getRawString(full)); // raw: no ${...} expansion
		collectKeys(config, full, out);
	}
}


std::vector<std::string> sectionHeaders(const std::string& path)
// Poco's INI reader only records keys, so an empty section such as "[plugin.echo]" would be
// invisible. Section lines are found the way Poco finds them: '[' as the first non-blank
// character, the name running to ']' or the end of the line.
{
	std::vector<std::string> out;
	std::ifstream in(path);
	std::string line;
	while (std::getline(in, line))
	{
		std::string_view l = ConfigParse::trim(line);
		if (l.empty() || l.front() != '[')
			continue;
		l.remove_prefix(1);
		std::string name = lower(trimmed(l.substr(0, l.find(']'))));
		if (!name.empty()) // keys under "[]" have no section, as in Poco
			out.push_back(name);
	}
	return out;
}


} // namespace


const char* const HostConfig::ENV_PREFIX = "SWITCHBOARD_";


HostConfig::HostConfig() {}


std::string HostConfig::environmentKey(const std::string& variable)
{
	if (!startsWith(variable, ENV_PREFIX))
		return std::string();
	std::string rest = variable.substr(std::char_traits<char>::length(ENV_PREFIX));
	if (rest.find("__") == std::string::npos)
		return std::string();
	std::string key;
	for (std::size_t i = 0; i < rest.size(); ++i)
	{
		if (rest[i] == '_' && i + 1 < rest.size() && rest[i + 1] == '_')
		{
			key += '.';
			++i;
		}
		else
			key += rest[i];
	}
	return lower(key);
}


std::map<std::string, std::string> HostConfig::processEnvironment()
{
	std::map<std::string, std::string> env;
	for (char** p = SWITCHBOARD_ENVIRON; p && *p; ++p)
	{
		std::string entry(*p);
		std::size_t eq = entry.find('=');
		if (eq != std::string::npos && startsWith(entry, ENV_PREFIX))
			env[entry.substr(0, eq)] = entry.substr(eq + 1);
	}
	return env;
}


bool HostConfig::load(const std::string& path, const std::map<std::string, std::string>& environment,
                      const std::vector<std::string>& overrides, HostConfig& out, std::string& error)
{
	out = HostConfig();
	out._path = path;
	error.clear();
	std::vector<std::string> errors;

	auto add = [&out, &errors](const std::string& key, const std::string& value, const std::string& origin,
	                           bool fromFile) {
		if (value.find_first_of("\r\n") != std::string::npos)
		{
			errors.push_back(valueError(origin, key, "a single line", value));
			return;
		}
		Entry& e = out._entries[key];
		e.value = trimmed(value);
		e.origin = origin;
		e.fromFile = fromFile;
		std::string section, name;
		splitKey(key, section, name);
		out._sections.emplace(section, origin);
	};

	if (!path.empty())
	{
		try
		{
			Poco::File file(path);
			if (!file.exists())
			{
				error = path + ": cannot read the configuration file: no such file";
				return false;
			}
			if (!file.isFile())
			{
				error = path + ": cannot read the configuration file: not a regular file";
				return false;
			}
			Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini(new Poco::Util::IniFileConfiguration(path));
			std::vector<std::pair<std::string, std::string>> values;
			collectKeys(*ini, "", values);
			for (const auto& kv : values)
				add(lower(kv.first), kv.second, path, true);
		}
		catch (const Poco::Exception& e)
		{
			error = path + ": cannot read the configuration file: " + e.displayText();
			return false;
		}
		for (const std::string& header : sectionHeaders(path))
		{
			// A malformed header that holds keys is reported through those keys already.
			bool holdsKeys = false;
			for (const auto& kv : out._entries)
				holdsKeys = holdsKeys || startsWith(kv.first, (header + ".").c_str());
			if (isWellFormedSection(header) || !holdsKeys)
				out._sections.emplace(header, path);
		}
	}

	for (const auto& kv : environment)
	{
		std::string key = environmentKey(kv.first);
		if (!key.empty())
			add(key, kv.second, "environment (" + kv.first + ")", false);
	}

	for (const std::string& item : overrides)
	{
		std::size_t eq = item.find('=');
		std::string key = lower(trimmed(eq == std::string::npos ? item : item.substr(0, eq)));
		if (eq == std::string::npos || key.empty())
		{
			errors.push_back("command line: " + (key.empty() ? std::string("--set") : key) +
			                 ": expected key=value, got " + ConfigSchema::quote(item));
			continue;
		}
		add(key, item.substr(eq + 1), "command line", false);
	}

	out.validate(errors);
	for (std::size_t i = 0; i < errors.size(); ++i)
		error += (i ? "\n" : "") + errors[i];
	return errors.empty();
}


bool HostConfig::validate(std::vector<std::string>& errors)
{
	for (const auto& s : _sections)
	{
		const std::string& section = s.first;
		if (findFixed(section))
			continue;
		// The first key of the section names it in the message; an empty section names itself.
		std::string where = section;
		std::string origin = s.second;
		for (const auto& e : _entries)
		{
			std::string sec, name;
			splitKey(e.first, sec, name);
			if (sec == section)
			{
				where = e.first;
				origin = e.second.origin;
				break;
			}
		}
		if (section.empty())
			errors.push_back(origin + ": " + where + ": key outside any section (expected it under " + KNOWN_SECTIONS +
			                 ")");
		else if (startsWith(section, LISTENER_PREFIX) || startsWith(section, PLUGIN_PREFIX))
		{
			std::string kind = startsWith(section, LISTENER_PREFIX) ? "listener" : "plugin";
			std::string name = section.substr(kind.size() + 1);
			if (!ConfigSchema::isValidName(name))
				errors.push_back(origin + ": " + where + ": invalid " + kind + " name " + ConfigSchema::quote(name) +
				                 " (expected letters, digits and '_')");
		}
		else
			errors.push_back(origin + ": " + where + ": unknown section [" + section + "] (expected " + KNOWN_SECTIONS +
			                 ")");
	}
	validateFixedSections(errors);
	validateListeners(errors);
	validatePluginSections(errors);
	checkAddressClashes(errors);
	return errors.empty();
}


std::string HostConfig::effective(const std::string& key, const char* fallback) const
{
	auto it = _entries.find(key);
	if (it != _entries.end())
		return it->second.value;
	return fallback ? fallback : "";
}


std::string HostConfig::sectionOrigin(const std::string& section) const
{
	auto it = _sections.find(section);
	if (it != _sections.end())
		return it->second;
	return _path.empty() ? std::string("configuration") : _path;
}


std::string HostConfig::origin(const std::string& key) const
{
	auto it = _entries.find(key);
	if (it != _entries.end())
		return it->second.origin;
	auto s = _sections.find(key);
	if (s != _sections.end())
		return s->second;
	return "default";
}


void HostConfig::validateFixedSections(std::vector<std::string>& errors)
{
	std::set<std::string> invalid;
	for (const auto& e : _entries)
	{
		std::string section, name;
		splitKey(e.first, section, name);
		const FixedSection* fixed = findFixed(section);
		if (!fixed)
			continue;
		const HostKey* key = findKey(fixed->keys, fixed->count, name);
		std::string expected;
		if (!key)
		{
			errors.push_back(e.second.origin + ": " + e.first + ": unknown key ([" + section +
			                 "] accepts: " + joinNames(fixed->keys, fixed->count) + ")");
		}
		else if (!checkHostValue(*key, e.second.value, expected))
		{
			errors.push_back(valueError(e.second.origin, e.first, expected, e.second.value));
			invalid.insert(e.first);
		}
	}

	// Invalid values fall back to defaults below; load() fails anyway.
	auto value = [this, &invalid](const char* section, const char* name) -> std::string {
		const FixedSection* fixed = findFixed(section);
		const HostKey* key = findKey(fixed->keys, fixed->count, name);
		std::string full = std::string(section) + "." + name;
		return invalid.count(full) ? std::string(key->key.defaultValue) : effective(full, key->key.defaultValue);
	};
	auto integer = [&value](const char* section, const char* name) { return toInt(value(section, name), 0); };
	auto boolean = [&value](const char* section, const char* name) { return toBool(value(section, name), false); };

	HostSettings& s = _settings;
	s.host.eventLoops = static_cast<int>(integer("host", "event_loops"));
	s.host.workerThreads = static_cast<int>(integer("host", "worker_threads"));
	s.host.logLevel = value("host", "log_level");
	s.host.poller = value("host", "poller");
	s.host.shutdownDeadlineMs = integer("host", "shutdown_deadline_ms");
	s.host.onPluginFailure =
	    value("host", "on_plugin_failure") == "skip" ? HostSettings::SKIP_ON_FAILURE : HostSettings::ABORT_ON_FAILURE;
	s.host.pluginDir = value("host", "plugin_dir");
	s.host.maxConnections = integer("host", "max_connections");
	s.storage.backend = value("storage", "backend");
	s.storage.directory = value("storage", "directory");
	s.http.maxThreads = static_cast<int>(integer("http", "max_threads"));
	s.http.maxQueued = static_cast<int>(integer("http", "max_queued"));
	s.http.maxBodySize = integer("http", "max_body_size");
	s.http.keepAlive = boolean("http", "keep_alive");
	s.websocket.maxMessageSize = integer("websocket", "max_message_size");
	s.websocket.idleTimeoutMs = integer("websocket", "idle_timeout_ms");
	s.websocket.pingIntervalMs = integer("websocket", "ping_interval_ms");
	s.websocket.closeTimeoutMs = integer("websocket", "close_timeout_ms");
	s.websocket.highWatermark = integer("websocket", "high_watermark");
	s.websocket.lowWatermark = integer("websocket", "low_watermark");
	s.websocket.maxOutputQueue = integer("websocket", "max_output_queue");
	s.websocket.handshakeTimeoutMs = integer("websocket", "handshake_timeout_ms");
	s.admin.enabled = boolean("admin", "enabled");
	s.admin.address = value("admin", "address");
	s.admin.port = static_cast<std::uint16_t>(integer("admin", "port"));

	// The watermarks only make sense in order: low < high <= hard cap.
	const HostSettings::WebSocket& ws = s.websocket;
	if (!invalid.count("websocket.low_watermark") && !invalid.count("websocket.high_watermark") &&
	    ws.lowWatermark >= ws.highWatermark)
	{
		errors.push_back(valueError(origin("websocket.low_watermark") == "default" ? origin("websocket.high_watermark")
		                                                                           : origin("websocket.low_watermark"),
		                            "websocket.low_watermark",
		                            "less than websocket.high_watermark (" + std::to_string(ws.highWatermark) + ")",
		                            std::to_string(ws.lowWatermark)));
	}
	if (!invalid.count("websocket.high_watermark") && !invalid.count("websocket.max_output_queue") &&
	    ws.highWatermark > ws.maxOutputQueue)
	{
		errors.push_back(valueError(origin("websocket.high_watermark") == "default"
		                                ? origin("websocket.max_output_queue")
		                                : origin("websocket.high_watermark"),
		                            "websocket.high_watermark",
		                            "at most websocket.max_output_queue (" + std::to_string(ws.maxOutputQueue) + ")",
		                            std::to_string(ws.highWatermark)));
	}
}


void HostConfig::validateListeners(std::vector<std::string>& errors)
{
	for (const auto& s : _sections)
	{
		if (!startsWith(s.first, LISTENER_PREFIX))
			continue;
		ListenerSettings listener;
		listener.name = s.first.substr(std::char_traits<char>::length(LISTENER_PREFIX));
		if (!ConfigSchema::isValidName(listener.name))
			continue; // reported in validate()
		bool hasPort = false;
		for (const auto& e : _entries)
		{
			std::string section, name;
			splitKey(e.first, section, name);
			if (section != s.first)
				continue;
			const HostKey* key = findKey(LISTENER_KEYS, std::size(LISTENER_KEYS), name);
			std::string expected;
			if (!key)
			{
				errors.push_back(e.second.origin + ": " + e.first + ": unknown key ([" + section +
				                 "] accepts: " + joinNames(LISTENER_KEYS, std::size(LISTENER_KEYS)) + ")");
				continue;
			}
			if (name == "port")
				hasPort = true;
			if (!checkHostValue(*key, e.second.value, expected))
			{
				errors.push_back(valueError(e.second.origin, e.first, expected, e.second.value));
				continue;
			}
			if (name == "address")
				listener.address = e.second.value;
			else if (name == "port")
				listener.port = static_cast<std::uint16_t>(toInt(e.second.value, 0));
			else if (name == "backlog")
				listener.backlog = static_cast<int>(toInt(e.second.value, 1024));
		}
		if (!hasPort)
		{
			const HostKey* port = findKey(LISTENER_KEYS, std::size(LISTENER_KEYS), "port");
			errors.push_back(s.second + ": " + s.first + ".port: missing required key (expected " +
			                 ConfigSchema::expectation(port->key) + ")");
		}
		_listeners.push_back(listener);
	}
}


void HostConfig::validatePluginSections(std::vector<std::string>& errors)
{
	std::vector<std::string> listenerNames;
	for (const auto& l : _listeners)
		listenerNames.push_back(l.name);

	for (const auto& s : _sections)
	{
		if (!startsWith(s.first, PLUGIN_PREFIX))
			continue;
		PluginSection plugin;
		plugin.name = s.first.substr(std::char_traits<char>::length(PLUGIN_PREFIX));
		if (!ConfigSchema::isValidName(plugin.name))
			continue; // reported in validate()
		bool listenerValid = true;
		for (const HostKey& key : PLUGIN_HOST_KEYS)
		{
			std::string full = s.first + "." + key.key.name;
			auto it = _entries.find(full);
			if (it == _entries.end())
				continue;
			std::string expected;
			if (!checkHostValue(key, it->second.value, expected))
			{
				errors.push_back(valueError(it->second.origin, full, expected, it->second.value));
				listenerValid = listenerValid && std::string(key.key.name) != "listener";
				continue;
			}
			if (std::string(key.key.name) == "enabled")
				plugin.enabled = toBool(it->second.value, true);
			else if (std::string(key.key.name) == "listener")
				plugin.listener = it->second.value;
			else if (std::string(key.key.name) == "prefix")
				plugin.prefix = it->second.value;
		}

		// A disabled plugin is not mounted, so its listener is neither required nor checked.
		std::string full = s.first + ".listener";
		if (plugin.enabled && listenerValid)
		{
			if (plugin.listener.empty())
			{
				if (listenerNames.size() == 1)
					plugin.listener = listenerNames.front();
				else if (listenerNames.empty())
					errors.push_back(
					    s.second + ": " + full +
					    ": no listener is defined (an enabled plugin needs a [listener.<name>] section with a port)");
				else
					errors.push_back(s.second + ": " + full + ": missing required key (expected one of the listeners " +
					                 join(listenerNames) + ")");
			}
			else if (std::find(listenerNames.begin(), listenerNames.end(), plugin.listener) == listenerNames.end())
			{
				std::string expected = listenerNames.empty()
				                           ? "the name of a [listener.<name>] section, but none is defined"
				                           : "one of the listeners " + join(listenerNames);
				errors.push_back(valueError(origin(full), full, expected, plugin.listener));
			}
		}
		_plugins.push_back(plugin);
	}
}


void HostConfig::checkAddressClashes(std::vector<std::string>& errors)
{
	// Endpoints with an invalid or missing address or port are already reported; comparing their
	// fallback values would only add confusing errors.
	auto valid = [this](const std::string& section, const HostKey* keys, std::size_t count, bool portRequired) {
		std::string expected;
		for (const char* name : {"address", "port"})
		{
			auto it = _entries.find(section + "." + name);
			if (it == _entries.end() ? (portRequired && std::string(name) == "port")
			                         : !checkHostValue(*findKey(keys, count, name), it->second.value, expected))
				return false;
		}
		return true;
	};
	std::vector<const ListenerSettings*> listeners;
	for (const auto& l : _listeners)
	{
		if (l.port != 0 && valid(LISTENER_PREFIX + l.name, LISTENER_KEYS, std::size(LISTENER_KEYS), true))
			listeners.push_back(&l); // each bind to port 0 gets its own free port
	}
	for (std::size_t i = 0; i < listeners.size(); ++i)
	{
		const ListenerSettings& b = *listeners[i];
		for (std::size_t j = 0; j < i; ++j)
		{
			const ListenerSettings& a = *listeners[j];
			if (a.port == b.port && addressesClash(a.address, b.address))
			{
				std::string key = "listener." + b.name + ".port";
				errors.push_back(origin(key) + ": " + key + ": " + endpoint(b.address, b.port) +
				                 " clashes with listener." + a.name + " (" + endpoint(a.address, a.port) +
				                 "); expected a distinct address:port");
				break;
			}
		}
	}
	const HostSettings::Admin& admin = _settings.admin;
	if (admin.enabled && admin.port != 0 && valid("admin", ADMIN_KEYS, std::size(ADMIN_KEYS), false))
	{
		for (const ListenerSettings* p : listeners)
		{
			const ListenerSettings& l = *p;
			if (l.port == admin.port && addressesClash(l.address, admin.address))
			{
				std::string o = origin("admin.port");
				if (o == "default")
					o = origin("listener." + l.name + ".port");
				errors.push_back(o + ": admin.port: " + endpoint(admin.address, admin.port) +
				                 " clashes with listener." + l.name + " (" + endpoint(l.address, l.port) +
				                 "); expected a distinct address:port");
				break;
			}
		}
	}
}


const PluginSection* HostConfig::plugin(const std::string& name) const
{
	for (const auto& p : _plugins)
	{
		if (p.name == name)
			return &p;
	}
	return nullptr;
}


bool HostConfig::validatePlugin(const std::string& name, const Switchboard::ConfigKey* keys, std::size_t count,
                                Switchboard::Config& out, std::string& error) const
{
	error.clear();
	std::set<std::string> reserved;
	std::vector<std::string> accepted;
	for (const HostKey& k : PLUGIN_HOST_KEYS)
	{
		reserved.insert(k.key.name);
		accepted.push_back(k.key.name);
	}
	std::string problem = ConfigSchema::checkDeclarations(keys, count, reserved);
	if (!problem.empty())
	{
		error = "plugin " + name + ": invalid configuration declaration: " + problem;
		return false;
	}
	for (std::size_t i = 0; i < count; ++i)
		accepted.push_back(keys[i].name);

	std::vector<std::string> errors;
	std::map<std::string, std::string, std::less<>> values;
	std::string section = PLUGIN_PREFIX + name;
	for (const auto& e : _entries)
	{
		std::string sec, key;
		splitKey(e.first, sec, key);
		if (sec != section || reserved.count(key))
			continue;
		const ConfigKey* declared = nullptr;
		for (std::size_t i = 0; i < count && !declared; ++i)
		{
			if (key == keys[i].name)
				declared = &keys[i];
		}
		if (!declared)
			errors.push_back(e.second.origin + ": " + e.first + ": unknown key (plugin " + name +
			                 " accepts: " + join(accepted) + ")");
		else if (!ConfigSchema::checkValue(*declared, e.second.value))
			errors.push_back(
			    valueError(e.second.origin, e.first, ConfigSchema::expectation(*declared), e.second.value));
		else
			values[key] = e.second.value;
	}
	for (std::size_t i = 0; i < count; ++i)
	{
		if (values.count(keys[i].name) || _entries.count(section + "." + keys[i].name))
			continue;
		if (keys[i].defaultValue)
			values[keys[i].name] = keys[i].defaultValue;
		else
			errors.push_back(sectionOrigin(section) + ": " + section + "." + keys[i].name +
			                 ": missing required key (expected " + ConfigSchema::expectation(keys[i]) + ")");
	}
	for (std::size_t i = 0; i < errors.size(); ++i)
		error += (i ? "\n" : "") + errors[i];
	if (!errors.empty())
		return false;
	out = Switchboard::Config(std::move(values));
	return true;
}


std::vector<std::string> HostConfig::pluginsWithoutLibrary(const std::vector<std::string>& available) const
{
	std::vector<std::string> missing;
	for (const auto& p : _plugins)
	{
		if (std::find(available.begin(), available.end(), p.name) == available.end())
			missing.push_back(p.name);
	}
	return missing;
}


std::string HostConfig::unknownPluginError(const std::string& name, const std::vector<std::string>& available) const
{
	std::string section = PLUGIN_PREFIX + name;
	return sectionOrigin(section) + ": " + section + ": no plugin library named " + ConfigSchema::quote(name) +
	       " was found (available: " + (available.empty() ? std::string("none") : join(available)) + ")";
}


std::string HostConfig::renderKey(const std::string& key, const std::string& description,
                                  const std::string& defaultText, const std::string& value) const
{
	std::string out = "; " + description + " (default: " + defaultText + ")\n";
	auto it = _entries.find(key);
	if (it != _entries.end() && !it->second.fromFile)
		out += "; set by " + it->second.origin + "\n";
	std::string name = key.substr(key.rfind('.') + 1);
	out += name + (value.empty() ? " =\n" : " = " + value + "\n");
	return out;
}


std::string HostConfig::render(const std::map<std::string, PluginSchema>& plugins) const
{
	std::ostringstream out;
	out << "; Switchboard effective configuration (switchboard --print-config).\n"
	    << "; Loadable as is: switchboard --config <this file>.\n";
	if (!_path.empty())
		out << "; Read from " << _path << ", then the environment and --set overrides.\n";

	for (const FixedSection& section : FIXED_SECTIONS)
	{
		out << "\n; " << section.description << "\n[" << section.name << "]\n";
		for (std::size_t i = 0; i < section.count; ++i)
		{
			const ConfigKey& key = section.keys[i].key;
			std::string full = std::string(section.name) + "." + key.name;
			std::string description = key.description;
			if (section.keys[i].allowed)
				description += "; " + ConfigSchema::expectation(key, section.keys[i].allowed);
			out << "\n"
			    << renderKey(full, description, ConfigSchema::defaultText(key), effective(full, key.defaultValue));
		}
	}

	for (const ListenerSettings& l : _listeners)
	{
		std::string section = LISTENER_PREFIX + l.name;
		out << "\n; Listener " << l.name << ": a TCP port serving HTTP and WebSocket for the plugins mounted on it.\n["
		    << section << "]\n";
		const std::string values[] = {l.address, std::to_string(l.port), std::to_string(l.backlog)};
		for (std::size_t i = 0; i < std::size(LISTENER_KEYS); ++i)
		{
			const ConfigKey& key = LISTENER_KEYS[i].key;
			out << "\n"
			    << renderKey(section + "." + key.name, key.description, ConfigSchema::defaultText(key), values[i]);
		}
	}

	for (const PluginSection& p : _plugins)
	{
		std::string section = PLUGIN_PREFIX + p.name;
		out << "\n; Plugin " << p.name << ".\n[" << section << "]\n";
		const std::string values[] = {p.enabled ? "true" : "false", p.listener, p.prefix};
		for (std::size_t i = 0; i < std::size(PLUGIN_HOST_KEYS); ++i)
		{
			const ConfigKey& key = PLUGIN_HOST_KEYS[i].key;
			out << "\n"
			    << renderKey(section + "." + key.name, key.description, ConfigSchema::defaultText(key), values[i]);
		}

		auto schema = plugins.find(p.name);
		std::set<std::string> written;
		for (const HostKey& k : PLUGIN_HOST_KEYS)
			written.insert(k.key.name);
		if (schema != plugins.end() && schema->second.keys)
		{
			for (std::size_t i = 0; i < schema->second.count; ++i)
			{
				const ConfigKey& key = schema->second.keys[i];
				if (!key.name || written.count(key.name))
					continue;
				written.insert(key.name);
				std::string full = section + "." + key.name;
				std::string description = key.description ? key.description : "";
				auto it = _entries.find(full);
				if (it == _entries.end() && !key.defaultValue)
					out << "\n; " << description << " (required)\n; " << key.name << " = (not set)\n";
				else
					out << "\n"
					    << renderKey(full, description, ConfigSchema::defaultText(key),
					                 it != _entries.end() ? it->second.value : std::string(key.defaultValue));
			}
		}
		bool noted = false;
		for (const auto& e : _entries)
		{
			std::string sec, name;
			splitKey(e.first, sec, name);
			if (sec != section || written.count(name))
				continue;
			if (!noted)
			{
				out << "\n; Keys below are not validated: "
				    << (schema == plugins.end() ? "no plugin library provides plugin " + p.name
				                                : "plugin " + p.name + " does not declare them")
				    << ".\n";
				noted = true;
			}
			if (!e.second.fromFile)
				out << "; set by " << e.second.origin << "\n";
			out << name << (e.second.value.empty() ? " =" : " = " + e.second.value) << "\n";
		}
	}
	return out.str();
}


int resolveEventLoops(int configured, unsigned cores)
{
	if (configured > 0)
		return configured;
	return cores > 2 ? static_cast<int>(cores - 1) : 1;
}


} // namespace Core
} // namespace Switchboard

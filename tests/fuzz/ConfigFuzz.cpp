//
// ConfigFuzz.cpp
//
// Fuzz target: the configuration (host/src/config/IniFile.h, HostConfig.h). Input: one byte of
// set-up, then NUL-separated parts: the file's text, then environment variables ("E" NAME=VALUE)
// and --set overrides (any other first byte, which is dropped). Checks: IniFile accounts for
// every line once (a section, a key, a comment or blank, or one error naming that line);
// HostConfig::load() throws nothing, answers the same twice, and every error line names where it
// comes from (file:line, environment, command line); a configuration it accepts, printed with
// render() (--print-config), loads again to the same settings and prints the same keys.
//


#include "FuzzSupport.h"
#include "config/HostConfig.h"
#include "config/IniFile.h"
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>


using Switchboard::Core::HostConfig;
using Switchboard::Core::IniFile;
using Switchboard::Core::ServerSettings;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;


namespace {


class ScratchFile
/// A file of this process's own in the temporary directory, rewritten for every input and
/// removed at exit.
{
public:
	explicit ScratchFile(const char* name)
	{
		const char* dir = std::getenv("TMPDIR");
		std::string pattern = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/" + name + "-XXXXXX";
		std::vector<char> buffer(pattern.begin(), pattern.end());
		buffer.push_back('\0');
		const int fd = mkstemp(buffer.data());
		FUZZ_CHECK_MSG(fd >= 0, "cannot create " + pattern);
		close(fd);
		_path = buffer.data();
	}

	~ScratchFile() { std::remove(_path.c_str()); }

	ScratchFile(const ScratchFile&) = delete;
	ScratchFile& operator=(const ScratchFile&) = delete;

	const std::string& path() const { return _path; }

	void write(const std::string& content) const
	{
		std::ofstream out(_path, std::ios::binary | std::ios::trunc);
		out << content;
		out.close();
		FUZZ_CHECK_MSG(out.good(), "cannot write " + _path);
	}

private:
	std::string _path;
};


std::string trimmedLine(const std::string& line)
{
	const char* const blanks = " \t\r\v\f";
	const std::size_t first = line.find_first_not_of(blanks);
	if (first == std::string::npos)
		return std::string();
	return line.substr(first, line.find_last_not_of(blanks) - first + 1);
}


bool isLower(const std::string& s)
{
	for (char c : s)
	{
		if (c >= 'A' && c <= 'Z')
			return false;
	}
	return true;
}


void checkIniFile(const std::string& text)
{
	IniFile file;
	std::vector<std::string> errors;
	std::istringstream in(text);
	IniFile::parse(in, "fuzz.ini", file, errors);

	// Every line once: blank or comment, a section, a key or an error about that line.
	std::vector<int> uses;
	std::vector<bool> quiet;
	std::size_t start = 0;
	while (start < text.size())
	{
		const std::size_t end = text.find('\n', start);
		const std::string line = trimmedLine(text.substr(start, end == std::string::npos ? end : end - start));
		quiet.push_back(line.empty() || line[0] == ';' || line[0] == '#');
		uses.push_back(0);
		if (end == std::string::npos)
			break;
		start = end + 1;
	}
	const int lines = static_cast<int>(uses.size());
	for (const IniFile::Section& section : file.sections())
	{
		FUZZ_CHECK(section.line >= 1 && section.line <= lines);
		FUZZ_CHECK(!section.name.empty() && isLower(section.name) && trimmedLine(section.name) == section.name);
		++uses[section.line - 1];
	}
	for (const IniFile::Entry& entry : file.entries())
	{
		FUZZ_CHECK(entry.line >= 1 && entry.line <= lines);
		FUZZ_CHECK(!entry.name.empty() && isLower(entry.name) && trimmedLine(entry.name) == entry.name);
		FUZZ_CHECK(isLower(entry.section));
		FUZZ_CHECK(trimmedLine(entry.value) == entry.value && entry.value.find('\n') == std::string::npos);
		FUZZ_CHECK(entry.name.find('=') == std::string::npos);
		++uses[entry.line - 1];
	}
	for (const std::string& error : errors)
	{
		FUZZ_CHECK_MSG(error.rfind("fuzz.ini:", 0) == 0, error);
		const int line = std::atoi(error.c_str() + 9);
		FUZZ_CHECK_MSG(line >= 1 && line <= lines, error);
		++uses[line - 1];
	}
	for (int i = 0; i < lines; ++i)
		FUZZ_CHECK_MSG(uses[i] == (quiet[i] ? 0 : 1), "line " + std::to_string(i + 1) + " of " + hexOf(text));
}


std::string dump(const HostConfig& c)
/// Every setting a configuration produces, for comparing two loads.
{
	const ServerSettings& s = c.settings();
	const auto& t = s.transport;
	const auto& h = s.http;
	std::ostringstream o;
	o << t.eventLoops << ' ' << t.poller << ' ' << t.maxConnections << ' ' << t.maxMessageSize << ' ' << t.idleTimeoutMs
	  << ' ' << t.pingIntervalMs << ' ' << t.closeTimeoutMs << ' ' << t.highWatermark << ' ' << t.lowWatermark << ' '
	  << t.maxOutputQueue << ' ' << t.fragmentTimeoutMs << ' ' << t.sendStallTimeoutMs << ' ' << t.maxBufferedTotal
	  << '\n'
	  << h.maxThreads << ' ' << h.maxQueued << ' ' << h.maxBodySize << ' ' << h.keepAlive << ' ' << h.requestTimeoutMs
	  << ' ' << h.bodyTimeoutMs << ' ' << h.keepAliveTimeoutMs << ' ' << h.maxRequestLine << ' ' << h.maxHeaderSize
	  << ' ' << h.maxHeaderCount << ' ' << h.maxConnectionsPerClient << ' ' << h.ipv6ClientPrefix << ' '
	  << h.upgradesPerSecond << ' ' << h.upgradeBurst << ' ' << h.maxPendingHandshakes << '\n'
	  << s.adminEnabled << ' ' << s.adminAddress << ' ' << s.adminPort << ' ' << s.pluginDir << '|'
	  << s.storageDirectory << '|' << s.workerThreads << ' ' << s.shutdownDeadlineMs << ' ' << s.abortOnPluginFailure
	  << ' ' << s.logLevel << ' ' << s.storageBackend << '\n';
	for (const auto& l : s.listeners)
		o << "listener " << l.name << ' ' << l.address << ' ' << l.port << ' ' << l.backlog << ' ' << l.tlsCertificate
		  << '|' << l.tlsKey << '|' << l.tlsChain << '|' << l.jsonErrors << ' ' << l.serveWhileDraining << '\n';
	for (const auto& m : s.plugins)
		o << "mount " << m.name << ' ' << m.listener << ' ' << m.prefix << '\n';
	for (const auto& p : c.plugins())
		o << "plugin " << p.name << ' ' << p.enabled << ' ' << p.listener << ' ' << p.prefix << '\n';
	return o.str();
}


std::string withoutComments(const std::string& text)
{
	std::string out;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);)
	{
		if (!line.empty() && line[0] != ';')
			out += line + "\n";
	}
	return out;
}


bool load(const std::string& path, const std::map<std::string, std::string>& environment,
          const std::vector<std::string>& overrides, HostConfig& out, std::string& error)
/// HostConfig::load(), where anything thrown is a failed invariant.
{
	try
	{
		return HostConfig::load(path, environment, overrides, out, error);
	}
	catch (const std::exception& e)
	{
		Switchboard::Test::fuzzCheckFailed("HostConfig::load() does not throw", __FILE__, __LINE__, e.what());
	}
	catch (...)
	{
		Switchboard::Test::fuzzCheckFailed("HostConfig::load() does not throw", __FILE__, __LINE__, "");
	}
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	static const ScratchFile CONFIG_FILE("switchboard-fuzz-config");
	static const ScratchFile RENDERED_FILE("switchboard-fuzz-rendered");

	FuzzInput input(data, size);
	const std::uint8_t setup = input.takeByte();
	const std::string text(input.takeUntil('\0'));
	std::map<std::string, std::string> environment;
	std::vector<std::string> overrides;
	while (!input.empty())
	{
		std::string part(input.takeUntil('\0'));
		if (!part.empty() && part[0] == 'E')
		{
			const std::size_t eq = part.find('=');
			environment[part.substr(1, eq == std::string::npos ? eq : eq - 1)] =
			    eq == std::string::npos ? std::string() : part.substr(eq + 1);
		}
		else if (!part.empty())
			overrides.push_back(part.substr(1));
	}

	checkIniFile(text);
	for (const auto& variable : environment)
	{
		const std::string key = HostConfig::environmentKey(variable.first);
		FUZZ_CHECK(isLower(key));
		if (!key.empty())
			FUZZ_CHECK(variable.first.rfind(HostConfig::ENV_PREFIX, 0) == 0 &&
			           variable.first.find("__") != std::string::npos);
	}

	// Bit 0 clear: the text is the file; set: no file at all (defaults, environment, --set).
	const bool withFile = (setup & 1) == 0;
	if (withFile)
		CONFIG_FILE.write(text);
	const std::string path = withFile ? CONFIG_FILE.path() : std::string();
	HostConfig config;
	std::string error;
	const bool ok = load(path, environment, overrides, config, error);
	HostConfig twice;
	std::string secondError;
	FUZZ_CHECK(load(path, environment, overrides, twice, secondError) == ok);
	FUZZ_CHECK(secondError == error);
	if (!ok)
	{
		FUZZ_CHECK(!error.empty());
		std::istringstream lines(error);
		for (std::string line; std::getline(lines, line);)
		{
			const bool located = (withFile && line.rfind(path + ":", 0) == 0) || line.rfind("environment (", 0) == 0 ||
			                     line.rfind("command line: ", 0) == 0;
			FUZZ_CHECK_MSG(located, "unlocated error: " + line);
		}
		return 0;
	}
	FUZZ_CHECK(error.empty());
	FUZZ_CHECK(dump(twice) == dump(config));

	// --print-config: loadable as it is, to the same values, and printed the same again.
	const std::string printed = config.render();
	RENDERED_FILE.write(printed);
	HostConfig again;
	FUZZ_CHECK_MSG(load(RENDERED_FILE.path(), {}, {}, again, error), error + "\nprinted:\n" + printed);
	FUZZ_CHECK_MSG(dump(again) == dump(config), "before:\n" + dump(config) + "after:\n" + dump(again));
	FUZZ_CHECK_MSG(withoutComments(again.render()) == withoutComments(printed), printed);
	return 0;
}

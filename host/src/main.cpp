//
// main.cpp
//
// The switchboard executable: a Poco ServerApplication that runs in the foreground or as a daemon
// (--daemon, --pidfile), and on Windows in a console or as a service (/registerService).
//


#include "config/HostConfig.h"
#include "console/Console.h"
#include "console/LogRing.h"
#include "net/Tls.h"
#include "plugin/PluginLoader.h"
#include "server/Allocator.h"
#include "server/Server.h"
#include "server/SystemdNotify.h"
#include "Poco/AsyncChannel.h"
#include "Poco/AutoPtr.h"
#include "Poco/ConsoleChannel.h"
#include "Poco/FormattingChannel.h"
#include "Poco/Logger.h"
#include "Poco/PatternFormatter.h"
#include "Poco/Process.h"
#include "Poco/SplitterChannel.h"
#include "Poco/Util/HelpFormatter.h"
#include "Poco/Util/Option.h"
#include "Poco/Util/OptionSet.h"
#include "Poco/Util/ServerApplication.h"
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#if defined(_WIN32)
#include "Poco/Net/Net.h"
#include <windows.h>
#else
#include <csignal>
#include <pthread.h>
#include <unistd.h>
#endif


using namespace Switchboard::Core;


namespace {

// --daemon makes Poco chdir("/") before our code runs; relative paths in the configuration
// and on the command line are resolved against the directory the command was started in.
std::filesystem::path startDirectory;
std::filesystem::path executablePath;

constexpr int EXIT_CONFIG_ERROR = 78; // sysexits' EX_CONFIG
constexpr const char* DEFAULT_PID_FILE = "/run/switchboard.pid";

std::string absolute(const std::string& path)
{
	if (path.empty())
		return path;
	std::filesystem::path p(path);
	return (p.is_absolute() ? p : startDirectory / p).lexically_normal().string();
}

std::string besideBinary(const std::string& relative)
/// The directory at relative from the binary's own (e.g. ../plugins, ../lib/switchboard/plugins),
/// normalized, or "" if there is none. Installed files are found this way, so one build serves the
/// build tree, `cmake --install` under any prefix and the Debian package under /usr.
{
	std::error_code ec;
	if (executablePath.empty() || relative.empty())
		return "";
	const std::filesystem::path found = executablePath.parent_path() / relative;
	return std::filesystem::is_directory(found, ec) ? found.lexically_normal().string() : std::string();
}

bool inBuildTree()
/// The build tree puts the binary in build/bin and the plugins in build/plugins.
{
	return !besideBinary("../plugins").empty();
}

std::string defaultPluginDir()
{
	if (inBuildTree())
		return besideBinary("../plugins");
	const std::string installed = besideBinary(SWITCHBOARD_RELATIVE_PLUGIN_DIR);
	return installed.empty() ? SWITCHBOARD_DEFAULT_PLUGIN_DIR : installed;
}

std::string defaultConsoleDir()
{
	// From the build tree, the source tree's files.
	std::error_code ec;
	if (inBuildTree() && std::filesystem::is_directory(SWITCHBOARD_SOURCE_CONSOLE_DIR, ec))
		return SWITCHBOARD_SOURCE_CONSOLE_DIR;
	const std::string installed = besideBinary(SWITCHBOARD_RELATIVE_CONSOLE_DIR);
	return installed.empty() ? SWITCHBOARD_DEFAULT_CONSOLE_DIR : installed;
}

void setUpLogging(const std::string& level)
{
	Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
	Poco::AutoPtr<Poco::PatternFormatter> pattern(new Poco::PatternFormatter("%Y-%m-%d %H:%M:%S.%i %p %s: %t"));
	pattern->setProperty("times", "local");
	Poco::AutoPtr<Poco::FormattingChannel> formatting(new Poco::FormattingChannel(pattern, console));
	// Asynchronous, so an event loop never waits on a slow terminal or journal.
	// Beside the terminal, the admin console's ring of recent warnings and errors.
	Poco::AutoPtr<Poco::SplitterChannel> splitter(new Poco::SplitterChannel);
	splitter->addChannel(formatting);
	splitter->addChannel(Poco::AutoPtr<Poco::Channel>(&LogRing::process(), true));
	Poco::AutoPtr<Poco::AsyncChannel> async(new Poco::AsyncChannel(splitter));
	Poco::Logger::root().setChannel(async);
	Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
}

#if !defined(_WIN32)

sigset_t handledSignals()
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGHUP);
	return set;
}

#endif


void tellServiceManager(const std::string& state)
// systemd's Type=notify (a no-op elsewhere); a failure is logged, never fatal.
{
	std::string error;
	if (!Switchboard::Core::notifyServiceManager(state, &error) && !error.empty())
		Poco::Logger::get("host").warning("cannot notify the service manager: %s", error);
}


#if !defined(_WIN32)

void waitForSignals(const std::function<void()>& reload)
// Returns on SIGTERM, SIGINT or SIGQUIT. SIGHUP is the reload signal of daemons: it never stops
// the server; it reloads the configuration.
{
	sigset_t set = handledSignals();
	for (;;)
	{
		int signal = 0;
		if (sigwait(&set, &signal) != 0)
			continue;
		if (signal != SIGHUP)
			return;
		tellServiceManager(Switchboard::Core::reloadingState());
		reload();
		tellServiceManager("READY=1");
	}
}

#endif


} // namespace


class SwitchboardApplication: public Poco::Util::ServerApplication
{
protected:
	void defineOptions(Poco::Util::OptionSet& options) override
	{
		ServerApplication::defineOptions(options);
		options.addOption(
		    Poco::Util::Option("help", "h", "Show this help and exit.").required(false).repeatable(false));
		options.addOption(
		    Poco::Util::Option("version", "V", "Print the version and exit.").required(false).repeatable(false));
		options.addOption(Poco::Util::Option("config", "c", "The configuration file (INI).")
		                      .required(false)
		                      .repeatable(false)
		                      .argument("FILE"));
		options.addOption(
		    Poco::Util::Option("set", "s", "Override one configuration key, e.g. --set=host.log_level=debug.")
		        .required(false)
		        .repeatable(true)
		        .argument("KEY=VALUE"));
		options.addOption(
		    Poco::Util::Option("print-config", "",
		                       "Print the effective configuration (defaults, file, environment, --set) and exit.")
		        .required(false)
		        .repeatable(false));
		options.addOption(Poco::Util::Option("reload", "",
		                                     "Ask the running server whose pid file this is (default "
		                                     "/run/switchboard.pid) to reload its configuration (SIGHUP), and exit.")
		                      .required(false)
		                      .repeatable(false)
		                      .argument("PIDFILE", false));
		options.addOption(Poco::Util::Option("check-config", "t",
		                                     "Check the configuration (host keys, every enabled plugin's keys, TLS "
		                                     "files) without starting: exit 0 if valid, else 78 with every problem.")
		                      .required(false)
		                      .repeatable(false));
	}

	void handleOption(const std::string& name, const std::string& value) override
	{
		ServerApplication::handleOption(name, value);
		if (name == "help")
			_help = true;
		else if (name == "version")
			_version = true;
		else if (name == "config")
			_configPath = value;
		else if (name == "set")
			_overrides.push_back(value);
		else if (name == "print-config")
			_printConfig = true;
		else if (name == "check-config")
			_checkConfig = true;
		else if (name == "reload")
		{
			_reload = true;
			_reloadPidFile = value.empty() ? std::string(DEFAULT_PID_FILE) : value;
		}
		if (_help || _version)
			stopOptionsProcessing();
	}

	int main(const std::vector<std::string>& arguments) override
	{
		if (_help)
		{
			Poco::Util::HelpFormatter help(options());
			help.setCommand(commandName());
			help.setUsage(
			    "[--config=FILE] [--set=KEY=VALUE ...] [--print-config | --check-config] [--daemon --pidfile=FILE] | "
			    "--reload[=PIDFILE]");
			help.setHeader("Switchboard: a self-hosted WebSocket signaling server whose protocols are plugins.");
			help.setFooter("Configuration: docs/configuration.md. Environment: SWITCHBOARD_<SECTION>__<KEY>.");
			help.format(std::cout);
			return EXIT_OK;
		}
		if (_version)
		{
			std::cout << "switchboard " << SWITCHBOARD_VERSION << " (plugin ABI " << Switchboard::ABI_MAJOR << "."
			          << Switchboard::ABI_MINOR << ", " << SWITCHBOARD_BUILD_SIGNATURE << ")\n";
			return EXIT_OK;
		}
		if (!arguments.empty())
		{
			std::cerr << "switchboard: unexpected argument '" << arguments.front() << "' (see --help)\n";
			return EXIT_USAGE;
		}
		if (_reload)
			return requestReload(_reloadPidFile);

		std::string configPath = _configPath.empty() ? defaultConfigPath() : absolute(_configPath);
#if defined(_WIN32)
		// A service starts in the system directory: its relative paths (storage, TLS files) are
		// the configuration file's, and that file is given by absolute path or found beside the
		// binary.
		if (Poco::Util::Application::config().getBool("application.runAsService", false) && !configPath.empty())
			startDirectory = std::filesystem::path(configPath).parent_path();
#endif
		HostConfig config;
		std::string error;
		const std::string shownPath = configPath.empty() ? std::string("(defaults only)") : configPath;
		if (!HostConfig::load(configPath, HostConfig::processEnvironment(), _overrides, config, error))
		{
			std::cerr << "switchboard: configuration error:\n" << error << "\n";
			if (_checkConfig)
				std::cerr << "switchboard: configuration " << shownPath << " is not valid (the plugins' keys are "
				          << "checked once the host's are)\n";
			return EXIT_CONFIG_ERROR;
		}
		ServerSettings settings = resolve(config.settings());

		if (_printConfig)
			return printConfig(config, settings.pluginDir);
		if (_checkConfig)
			return checkConfig(config, settings, shownPath);

		settings.consoleDir = defaultConsoleDir();
		settings.effectiveConfig = Console::maskSecrets(config.render());
		setUpLogging(settings.logLevel);
		Poco::Logger& log = Poco::Logger::get("host");
		log.information("configuration: %s", configPath.empty() ? std::string("(defaults only)") : configPath);

		bool pluginConfigRejected = false;
		int status = EXIT_OK;
		{
			Server server(settings, [&config, &pluginConfigRejected](
			                            const std::string& name, const Switchboard::ConfigKey* keys, std::size_t count,
			                            Switchboard::Config& out, std::string& validationError) {
				bool ok = config.validatePlugin(name, keys, count, out, validationError);
				pluginConfigRejected = pluginConfigRejected || !ok;
				return ok;
			});
			if (!server.start(error))
				status = pluginConfigRejected || server.failedOnConfiguration() ? EXIT_CONFIG_ERROR : EXIT_SOFTWARE;
			else
			{
				// Every listener is bound and every plugin started.
				tellServiceManager("READY=1\nSTATUS=serving\nMAINPID=" + std::to_string(Poco::Process::id()));
#if defined(_WIN32)
				// Ctrl-C, Ctrl-Break, closing the console or a service stop; there is no reload signal.
				waitForTerminationRequest();
#else
				std::uint64_t generation = 1;
				HostConfig live = config;
				waitForSignals([&] { reloadConfiguration(server, configPath, live, generation); });
				// The signals stay blocked: a second SIGTERM stays pending and cannot cut the graceful
				// shutdown short (it has its own deadline, and SIGKILL still works).
#endif
				log.information("termination requested; shutting down");
				tellServiceManager("STOPPING=1");
				server.shutdown();
			}
		}
		// The log channel is asynchronous: drain it and stop its thread once the Server (whose
		// members log) is gone, on every way out. Otherwise the last lines may be lost, and exit()
		// destroyed Poco's statics while that thread still used them (ThreadSanitizer saw it
		// after a failed start).
		if (Poco::Channel* channel = Poco::Logger::root().getChannel())
			channel->close();
		// Straight to stderr, and after the log is drained, so no log line lands inside it.
		if (status != EXIT_OK)
			std::cerr << "switchboard: start-up failed: " << error << "\n";
		return status;
	}

private:
	static std::string defaultConfigPath()
	{
		std::error_code ec;
#if defined(_WIN32)
		const std::string installed = (executablePath.parent_path() / "switchboard.ini").string();
#else
		const std::string installed = "/etc/switchboard/switchboard.ini";
#endif
		return std::filesystem::exists(installed, ec) ? installed : "";
	}

	static ServerSettings resolve(ServerSettings settings)
	/// The configured settings with what depends on this process filled in: automatic event
	/// loops, the plugin directory, paths relative to the start directory.
	{
		settings.transport.eventLoops =
		    resolveEventLoops(settings.transport.eventLoops, std::thread::hardware_concurrency());
		settings.pluginDir = settings.pluginDir.empty() ? defaultPluginDir() : absolute(settings.pluginDir);
		settings.storageDirectory = absolute(settings.storageDirectory);
		for (ListenerSpec& listener : settings.listeners)
		{
			// Relative to the start directory, like the storage directory: a reload (SIGHUP) reads
			// the same files whatever the working directory is by then.
			for (std::string* path : {&listener.tlsCertificate, &listener.tlsKey, &listener.tlsChain})
			{
				if (!path->empty())
					*path = absolute(*path);
			}
		}
		return settings;
	}

	static void checkPlugins(const HostConfig& config, const std::string& pluginDir, bool enabledOnly,
	                         std::vector<std::unique_ptr<PluginLibrary>>& libraries,
	                         std::map<std::string, PluginSchema>& schemas, std::vector<std::string>& problems)
	/// Loads each configured plugin's library (or each enabled one's) for its declarations (nothing
	/// is created) and checks the plugin's keys against them; what fails goes to problems.
	{
		for (const PluginSection& p : config.plugins())
		{
			if (enabledOnly && !p.enabled)
				continue;
			std::string error;
			auto library = PluginLoader::load(pluginDir + "/" + PluginLoader::libraryFileName(p.name), p.name, error);
			if (!library)
			{
				problems.push_back(error);
				continue;
			}
			schemas[p.name] = PluginSchema{library->descriptor().configKeys, library->descriptor().configKeyCount};
			Switchboard::Config checked;
			if (!config.validatePlugin(p.name, library->descriptor().configKeys, library->descriptor().configKeyCount,
			                           checked, error))
				problems.push_back(error);
			libraries.push_back(std::move(library));
		}
	}

	static int requestReload(const std::string& pidFile)
	/// --reload: SIGHUP to the server the pid file names, once it is sure that is a switchboard
	/// (a stale file may name another process by now, which SIGHUP could end).
	{
#if defined(_WIN32)
		std::cerr << "switchboard: --reload (" << pidFile << "): there is no reload signal on Windows; restart the "
		          << "server or the service\n";
		return EXIT_UNAVAILABLE;
#else
		std::ifstream file(pidFile);
		long pid = 0;
		if (!(file >> pid) || pid <= 1)
		{
			std::cerr << "switchboard: --reload: no process id in " << pidFile
			          << (file.is_open() ? "" : " (cannot open it)") << "; is the server running with --pidfile?\n";
			return EXIT_NOINPUT;
		}
		std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
		std::string name;
		if (!std::getline(comm, name))
		{
			std::cerr << "switchboard: --reload: process " << pid << " from " << pidFile
			          << " is not running (a stale pid file?)\n";
			return EXIT_UNAVAILABLE;
		}
		if (name != "switchboard")
		{
			std::cerr << "switchboard: --reload: process " << pid << " from " << pidFile << " is '" << name
			          << "', not switchboard (a stale pid file?); nothing sent\n";
			return EXIT_UNAVAILABLE;
		}
		if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0)
		{
			std::cerr << "switchboard: --reload: cannot signal process " << pid << ": " << std::strerror(errno) << "\n";
			return EXIT_UNAVAILABLE;
		}
		std::cout << "switchboard: reload requested (SIGHUP to process " << pid
		          << "); its log says what changed, /readyz shows the new configuration generation\n";
		return EXIT_OK;
#endif
	}

	static bool isLiveLimit(const std::string& key)
	/// Host keys a reload applies to what comes next (Server::updateLimits).
	{
		static const std::set<std::string> live = {"host.shutdown_deadline_ms",   "http.max_queued",
		                                           "http.max_body_size",          "http.keep_alive",
		                                           "http.keep_alive_timeout_ms",  "http.body_timeout_ms",
		                                           "http.max_request_line",       "http.max_header_size",
		                                           "http.max_header_count",       "http.max_connections_per_client",
		                                           "http.upgrades_per_second",    "http.upgrade_burst",
		                                           "http.max_pending_handshakes", "websocket.handshake_timeout_ms"};
		return live.count(key) > 0;
	}

	void reloadConfiguration(Server& server, const std::string& configPath, HostConfig& live, std::uint64_t& generation)
	/// SIGHUP: reads the configuration again (file, environment, --set) and checks all of it as
	/// --check-config does; a configuration with any problem changes nothing. Otherwise what
	/// changed since the last reload (or the start) is applied where it can be: the log level,
	/// and each running plugin's own keys through Plugin::reconfigure; everything else is
	/// reported as needing a restart. The TLS files are re-read in any case.
	{
		Poco::Logger& log = Poco::Logger::get("host");
		HostConfig fresh;
		std::string error;
		std::vector<std::string> problems;
		std::vector<std::unique_ptr<PluginLibrary>> libraries; // keeps the schemas' declarations mapped
		std::map<std::string, PluginSchema> schemas;
		if (!HostConfig::load(configPath, HostConfig::processEnvironment(), _overrides, fresh, error))
			problems.push_back(error);
		else
			checkPlugins(fresh, resolve(fresh.settings()).pluginDir, true, libraries, schemas, problems);
		if (!problems.empty())
		{
			log.warning("SIGHUP: configuration not reloaded, the running one (generation %s) stays:",
			            std::to_string(generation));
			for (const std::string& problem : problems)
				log.warning("  %s", problem);
			server.reload(); // the TLS files may have been renewed all the same
			return;
		}
		std::vector<std::string> applied, needsRestart;
		std::map<std::string, std::vector<std::string>> pluginKeys; // plugin -> its own changed keys
		std::set<std::string> toDisable, toEnable;
		std::vector<std::string> limits; // host limits and timeouts that apply to what comes next
		for (const std::string& key : live.changedKeys(fresh))
		{
			const std::string pluginPrefix = "plugin.";
			const std::size_t dot = key.find('.', pluginPrefix.size());
			const std::string name = key.compare(0, pluginPrefix.size(), pluginPrefix) == 0 && dot != std::string::npos
			                             ? key.substr(pluginPrefix.size(), dot - pluginPrefix.size())
			                             : std::string();
			const std::string own = name.empty() ? std::string() : key.substr(dot + 1);
			const PluginSection* before = name.empty() ? nullptr : live.plugin(name);
			const PluginSection* after = name.empty() ? nullptr : fresh.plugin(name);
			const bool enabledBefore = before != nullptr && before->enabled;
			const bool enabledAfter = after != nullptr && after->enabled;
			if (key == "host.log_level")
				applied.push_back(key);
			else if (isLiveLimit(key))
				limits.push_back(key);
			else if (name.empty())
				needsRestart.push_back(key);
			else if (enabledBefore && !enabledAfter)
				toDisable.insert(name); // its other keys go with it
			else if (!enabledBefore && enabledAfter)
				toEnable.insert(name); // it starts with all of its new keys
			else if (!enabledBefore)
				applied.push_back(key); // a plugin that is off: read when it is turned on
			else if (own != "listener" && own != "prefix")
				pluginKeys[name].push_back(own);
			else
				needsRestart.push_back(key);
		}
		// Applied from the new configuration each time, so a reverted level comes back too.
		const std::string level = fresh.settings().logLevel;
		if (Poco::Logger::root().getLevel() != Poco::Logger::parseLevel(level))
		{
			Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
			Poco::Logger::root().setLevel(level);
		}
		if (!limits.empty())
		{
			const std::string why = server.updateLimits(resolve(fresh.settings()));
			for (const std::string& key : limits)
				(why.empty() ? applied : needsRestart).push_back(key);
			if (!why.empty())
				log.warning("SIGHUP: the host's limits keep their running values until a restart: %s", why);
		}
		// Off first, so a plugin moved between names frees its paths before the other takes them.
		for (const std::string& name : toDisable)
		{
			const std::string why = server.disablePlugin(name);
			(why.empty() ? applied : needsRestart).push_back("plugin." + name + ".enabled");
			if (!why.empty())
				log.warning("SIGHUP: plugin %s stays on until a restart: %s", name, why);
		}
		const ServerSettings freshSettings = resolve(fresh.settings());
		for (const std::string& name : toEnable)
		{
			std::string why = "its section has no mount";
			for (const PluginMount& mount : freshSettings.plugins)
			{
				if (mount.name == name)
					why = server.enablePlugin(mount, [&fresh](const std::string& plugin,
					                                          const Switchboard::ConfigKey* keys, std::size_t count,
					                                          Switchboard::Config& out, std::string& validationError) {
						return fresh.validatePlugin(plugin, keys, count, out, validationError);
					});
			}
			(why.empty() ? applied : needsRestart).push_back("plugin." + name + ".enabled");
			if (!why.empty())
				log.warning("SIGHUP: plugin %s could not be turned on: %s", name, why);
		}
		for (const auto& entry : pluginKeys)
		{
			const PluginSchema& schema = schemas.at(entry.first);
			Switchboard::Config config;
			std::string why;
			if (!fresh.validatePlugin(entry.first, schema.keys, schema.count, config, why))
				why = "its keys no longer check: " + why; // checked above; kept for safety
			else
				why = server.reconfigurePlugin(entry.first, config, entry.second);
			for (const std::string& key : entry.second)
				(why.empty() ? applied : needsRestart).push_back("plugin." + entry.first + "." + key);
			if (!why.empty())
				log.warning("SIGHUP: plugin %s keeps its running values until a restart: %s", entry.first, why);
		}
		server.setConfigurationGeneration(++generation);
		server.setConfigText(Console::maskSecrets(fresh.render()));
		live = fresh;
		auto joined = [](std::vector<std::string> keys) {
			std::sort(keys.begin(), keys.end());
			std::string out;
			for (const std::string& key : keys)
				out += (out.empty() ? "" : ", ") + key;
			return out;
		};
		log.notice("SIGHUP: configuration %s reloaded (generation %s); live: %s",
		           configPath.empty() ? std::string("(defaults only)") : configPath, std::to_string(generation),
		           applied.empty() ? std::string("nothing changed") : joined(applied));
		if (!needsRestart.empty())
			log.warning("SIGHUP: these changes take effect only after a restart: %s", joined(needsRestart));
		server.reload();
	}

	int printConfig(const HostConfig& config, const std::string& pluginDir)
	{
		std::vector<std::unique_ptr<PluginLibrary>> libraries;
		std::map<std::string, PluginSchema> schemas;
		std::vector<std::string> problems;
		checkPlugins(config, pluginDir, false, libraries, schemas, problems);
		for (const std::string& problem : problems)
			std::cerr << "switchboard: " << problem << "\n";
		std::cout << "; plugin_dir resolves to " << pluginDir << "\n"
		          << "; secret values (passwords, secrets, tokens, keys) are shown as " << Console::MASK
		          << ": put the real ones back before loading this file\n"
		          << Console::maskSecrets(config.render(schemas));
		return problems.empty() ? EXIT_OK : EXIT_CONFIG_ERROR;
	}

	int checkConfig(const HostConfig& config, const ServerSettings& settings, const std::string& shownPath)
	/// --check-config: what a start would refuse before serving, all of it, without binding,
	/// opening storage or starting anything (like nginx -t).
	{
		std::vector<std::unique_ptr<PluginLibrary>> libraries;
		std::map<std::string, PluginSchema> schemas;
		std::vector<std::string> problems;
		checkPlugins(config, settings.pluginDir, true, libraries, schemas, problems);
		for (const ListenerSpec& listener : settings.listeners)
		{
			std::string error;
			if (!listener.tlsCertificate.empty() &&
			    !TlsContext::load(TlsFiles{listener.tlsCertificate, listener.tlsKey, listener.tlsChain}, error))
				problems.push_back("[listener." + listener.name + "] " + error);
		}
		if (problems.empty())
		{
			std::cout << "switchboard: configuration " << shownPath << " is valid (" << libraries.size()
			          << " enabled plugin(s) checked in " << settings.pluginDir << ")\n";
			return EXIT_OK;
		}
		for (const std::string& problem : problems)
			std::cerr << "switchboard: " << problem << "\n";
		std::cerr << "switchboard: configuration " << shownPath << " is not valid: " << problems.size()
		          << " problem(s)\n";
		return EXIT_CONFIG_ERROR;
	}

	bool _help = false;
	bool _version = false;
	bool _printConfig = false;
	bool _checkConfig = false;
	bool _reload = false;
	std::string _reloadPidFile;
	std::string _configPath;
	std::vector<std::string> _overrides;
};


#if defined(_WIN32)

int wmain(int argc, wchar_t** argv)
// The wide entry point, so paths outside the ANSI code page reach Poco intact; a service's
// start goes through Poco's service dispatcher in ServerApplication::run().
{
	std::error_code ec;
	startDirectory = std::filesystem::current_path(ec);
	std::wstring path(MAX_PATH, L'\0');
	for (int attempt = 0; attempt < 8; ++attempt)
	{
		DWORD length = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
		if (length < path.size())
		{
			path.resize(length);
			executablePath = std::filesystem::path(path);
			break;
		}
		path.resize(path.size() * 2);
	}
	// Poco starts Winsock by itself only when built with MSVC.
	Poco::Net::initializeNetwork();
	SwitchboardApplication application;
	// Switchboard's options are --options on every platform. Poco's service options keep their
	// Windows spelling (/registerService, /displayName=...): a command line that starts with '/'
	// is read the Windows way, where every option is written /name[=value].
	application.setUnixOptions(argc < 2 || argv[1][0] != L'/');
	int status = application.run(argc, argv);
	Poco::Net::uninitializeNetwork();
	return status;
}

#else

int main(int argc, char** argv)
{
	std::error_code ec;
	startDirectory = std::filesystem::current_path(ec);
	executablePath = std::filesystem::canonical("/proc/self/exe", ec);
	std::signal(SIGPIPE, SIG_IGN); // a vanished peer must never kill the process
	keepFreedMemoryNearby();
	// Blocked before any thread starts, so every thread inherits the mask and only the main
	// thread's sigwait() sees these: SIGHUP in particular must never take the default action
	// (terminate) in some event loop thread.
	sigset_t handled = handledSignals();
	pthread_sigmask(SIG_BLOCK, &handled, nullptr);
	SwitchboardApplication application;
	return application.run(argc, argv);
}

#endif

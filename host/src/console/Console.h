//
// Console.h
//
// The admin listener's read-only console: its static files (host/console, with Debian's
// Chart.js beside them), the metrics as JSON for /stats.json, and the effective configuration
// with secrets masked.
//


#ifndef Switchboard_Core_Console_INCLUDED
#define Switchboard_Core_Console_INCLUDED


#include <map>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Core {
namespace Console {


constexpr const char* CHART_JS_PATH = "/usr/share/javascript/chart.js/chart.min.js";
///< Where Debian's libjs-chart.js installs the UMD build of Chart.js.
constexpr const char* MASK = "********";


bool isSecretKey(std::string_view name);
/// Whether a configuration key's value is secret, from its name alone (the part after the
/// section; plugin keys may be dotted). The name is cut into words at '.' and '_'; the last word
/// decides: secret, password, passwd, token, tokens, credential(s) are secret, and so is key,
/// except tls_key and public_key (a path and a public value). Durations and limits about
/// secrets (access_token_ttl, password_lockout, password.memlimit) are not.

std::string maskSecrets(const std::string& ini);
/// The INI text of HostConfig::render() with the value of every secret key replaced by MASK
/// (an empty value stays empty: "not set" is worth seeing). [environment] lines name variables,
/// not values, and are left alone.

std::string metricsJson(const std::string& prometheusText);
/// Prometheus text exposition (0.0.4) as one JSON object, a member per metric family in the
/// order met: {"<family>":{"type":"counter","help":"...","samples":[{"labels":{...},"value":1}]}}.
/// A histogram's _bucket, _sum and _count samples carry their own "name". Values that JSON
/// cannot spell (NaN, +Inf, -Inf) are strings. Lines that do not parse are skipped.


class Assets
/// The console's files, read once (start-up) and served from memory, so the admin handlers
/// never touch the disk.
{
public:
	void load(const std::string& consoleDir, const std::string& chartJsPath);
	/// Reads index.html, console.css and console.js from consoleDir and the Chart.js file;
	/// a file that cannot be read is left out (find() then fails for it).

	bool find(const std::string& path, std::string& contentType, std::string& body, std::string& missing) const;
	/// For "/", "/console", "/console/", "/console/console.css", "/console/console.js" and
	/// "/console/vendor/chart.js": true with the file, or false with missing set to a readable
	/// reason when the file was not found at start-up. False with missing empty: not a console path.

	static bool isConsolePath(const std::string& path);

private:
	struct File
	{
		std::string contentType;
		std::string body;
		bool loaded = false;
		std::string source;
	};
	std::map<std::string, File> _files; // URL path -> file
};


} // namespace Console
} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_Console_INCLUDED

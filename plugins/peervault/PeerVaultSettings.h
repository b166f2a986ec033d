//
// PeerVaultSettings.h
//
// The PeerVault plugin's configuration keys (docs/protocols/peervault.md, "Configuration") and
// their validated values. Key names mirror the contract's YAML paths under [plugin.peervault],
// dots included; durations are Go-style text ("30s", "1m30s"); the address and port are the
// listener's ([listener.peervault]). The PEERVAULT_WS_* variables reach these keys through the
// host's [environment] section.
//


#ifndef Switchboard_PeerVault_PeerVaultSettings_INCLUDED
#define Switchboard_PeerVault_PeerVaultSettings_INCLUDED


#include "Alerts.h"
#include "Auth.h"
#include "Events.h"
#include "switchboard/SDK.h"
#include <array>
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace PeerVault {


enum class AuthMode
{
	OFF,
	OPTIONAL,
	REQUIRED
};


struct PeerVaultSettings
{
	bool corsEnabled = true;
	std::vector<std::string> corsOrigins{"*"}; ///< lowercased; "*" matches any
	std::int64_t readTimeoutMs = 30000;
	std::int64_t writeTimeoutMs = 30000;
	std::int64_t pingPeriodMs = 54000;
	std::int64_t pongWaitMs = 60000;
	std::int64_t maxConnections = 1000;
	std::int64_t maxMessageSize = 1048576;
	double messagesPerSecond = 100;
	double burst = 100;
	std::int64_t sendQueueFrames = 1024;
	std::int64_t sendQueueBytes = 16777216;
	bool ackSubscriptions = false;

	AuthMode authMode = AuthMode::OFF;
	std::vector<StaticToken> tokens;
	JwtRules jwt; ///< secret, issuer, audience, leeway
	std::int64_t authTimeoutMs = 10000;
	std::array<std::string, TOPIC_COUNT> topicScopes; ///< per Topic index; "" = open

	double publishPerSecond = 1000;
	double publishBurst = 2000;

	std::int64_t metricsIntervalMs = 5000; ///< 0 = no ticker and no alerts
	bool metricsDetailed = false;
	std::string metricsStoragePath; ///< "" = the host's data directory
	std::array<Thresholds, ALERT_METRIC_COUNT> thresholds;

	std::int64_t shutdownDrainMs = 30000;

	static const ConfigKey* keys();
	static std::uint32_t keyCount();

	std::string load(const Config& config);
	/// "" or the first problem, naming the key: a duration that does not parse, a ping period not
	/// below the pong wait, an auth mode other than off/optional/required, malformed tokens or
	/// topic_scopes JSON (topic_scopes: a JSON object of topic → scope, topics among the four), a
	/// jwt_secret shorter than 32 bytes, an origin not of the form scheme://host[:port] or "*".
};


} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_PeerVaultSettings_INCLUDED

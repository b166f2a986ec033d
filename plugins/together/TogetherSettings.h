//
// TogetherSettings.h
//
// The Together plugin's configuration keys (docs/protocols/together.md, "Configuration") and
// their validated values. Key names follow the contract, dots included.
//


#ifndef Switchboard_Together_TogetherSettings_INCLUDED
#define Switchboard_Together_TogetherSettings_INCLUDED


#include "Sessions.h"
#include "switchboard/SDK.h"
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace Together {


struct TogetherSettings
{
	std::string jwtSecret; ///< "" = generated once and kept in the settings table
	TokenPolicy tokens;
	unsigned long long passwordOpslimit = 2;
	std::size_t passwordMemlimit = 67108864;
	double authRatePerSecond = 10;
	double authRateBurst = 30;
	std::vector<std::string> corsOrigins{"*"};
	std::string webRoot;

	std::vector<std::string> wsAllowedOrigins;
	double wsConnectRatePerSecond = 20;
	double wsConnectRateBurst = 50;
	std::int64_t wsMaxConnections = 10000;
	std::int64_t wsMaxSessionsPerUser = 10;
	std::int64_t wsHeartbeatIntervalMs = 30000;
	std::int64_t wsHeartbeatTimeoutS = 90;
	std::int64_t wsPingIntervalS = 0;
	std::int64_t wsMaxFrameBytes = 65536;
	double wsRatePerSecond = 20;
	double wsRateBurst = 60;
	std::int64_t wsSendQueueMaxFrames = 1024;
	std::int64_t wsSendQueueMaxBytes = 4194304;
	std::int64_t wsWriteTimeoutS = 10;
	std::int64_t wsCloseTimeoutS = 5;
	std::int64_t wsShutdownGraceS = 5;
	bool wsCloseOnTokenExpiry = false;

	static const ConfigKey* keys();
	static std::uint32_t keyCount();

	std::string load(const Config& config);
	/// "" or why the values cannot be used together (the host checked each one's type and range).
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_TogetherSettings_INCLUDED

//
// GovpnSettings.h
//
// The plugin's configuration keys (docs/protocols/govpn.md §2) and their validated values.
//


#ifndef Switchboard_Govpn_GovpnSettings_INCLUDED
#define Switchboard_Govpn_GovpnSettings_INCLUDED


#include "switchboard/SDK.h"
#include "switchboard/util/AddressRange.h"
#include <cstdint>
#include <string>
#include <vector>


namespace Switchboard {
namespace Govpn {


struct GovpnSettings
{
	std::string wsPath;
	std::string healthPath;
	std::string statsPath;
	std::vector<std::string> allowedOrigins;
	std::vector<AddressRange> trustedProxies; ///< addresses and CIDR ranges
	std::int64_t maxMembersPerRoom = 50;
	double roomExpiryDays = 30; ///< fractions allowed, so a test can expire rooms within seconds
	std::int64_t cleanupIntervalS = 3600;
	std::int64_t rateLimitBurst = 3;
	std::int64_t rateLimitRefillS = 20;
	std::int64_t rateLimitIpv6Prefix = 64;
	std::int64_t passwordMaxFailures = 5;
	std::int64_t passwordFailureWindowS = 900;
	std::int64_t passwordLockoutS = 900;
	std::int64_t passwordLockoutMaxS = 86400;
	std::int64_t messageRate = 100;
	std::int64_t messageBurst = 1000;
	std::int64_t maxMessageSize = 65536;
	std::int64_t pingIntervalS = 30;
	std::int64_t idleTimeoutS = 90;
	bool strictAuth = false;
	std::string strictAuthHost;
	std::int64_t authTimeoutS = 30;
	std::int64_t shutdownGraceS = 2;
	std::string shutdownRestartInfo;
	std::int64_t storageTimeoutS = 5;
	std::int64_t pwhashOpslimit = 0;
	std::int64_t pwhashMemlimit = 0;

	static const ConfigKey* keys();
	static std::uint32_t keyCount();

	std::string load(const Config& config);
	/// Reads every key; returns what is wrong beyond the declared types and ranges, or "".
};


std::string normaliseIp(const std::string& text);
/// The canonical text of an IPv4 or IPv6 address (IPv4-mapped IPv6 as IPv4), or "" if it is none.


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_GovpnSettings_INCLUDED

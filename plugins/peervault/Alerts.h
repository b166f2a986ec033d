//
// Alerts.h
//
// PeerVault's threshold alerts (docs/protocols/peervault.md, "Threshold alerts"): five metrics,
// each normal, warning or critical, and an alert only when a metric's level changes. Not
// thread-safe: the plugin evaluates from its one ticker.
//


#ifndef Switchboard_PeerVault_Alerts_INCLUDED
#define Switchboard_PeerVault_Alerts_INCLUDED


#include <array>
#include <string>


namespace Switchboard {
namespace PeerVault {


enum class AlertMetric
{
	MEMORY_USAGE,
	CPU_USAGE,
	CONNECTION_USAGE,
	AVERAGE_RESPONSE_TIME,
	STORAGE_USAGE
};

constexpr int ALERT_METRIC_COUNT = 5;

const char* alertMetricName(AlertMetric metric);
/// "memory_usage", "cpu_usage", "connection_usage", "average_response_time", "storage_usage".

const char* alertType(AlertMetric metric);
/// "performance_alert", or "storage_alert" for storage_usage.


struct Thresholds
{
	double warning = 0;  ///< <= 0 disables the level
	double critical = 0; ///< <= 0 disables the level
};

Thresholds defaultThresholds(AlertMetric metric);
/// 80/95, 90/98, 80/95, 1000/5000, 85/95.


struct Alert
{
	std::string level;   ///< "warning", "critical" or "info" (back to normal)
	std::string message; ///< "High memory usage detected", "Critical CPU usage detected", "Memory usage back to normal"
	double threshold = 0; ///< the warning value, or the critical one for a critical alert
};


class AlertTracker
{
public:
	explicit AlertTracker(const std::array<Thresholds, ALERT_METRIC_COUNT>& thresholds);

	bool evaluate(AlertMetric metric, double value, Alert& alert);
	/// Classifies value (critical when critical > 0 and value >= critical, else warning when
	/// warning > 0 and value >= warning, else normal); true with the alert when the level differs
	/// from the metric's last one. Every metric starts normal.

	const Thresholds& thresholds(AlertMetric metric) const;

	void setThresholds(const std::array<Thresholds, ALERT_METRIC_COUNT>& thresholds);
	/// A reload's thresholds, from the next evaluation on. Each metric keeps its last level, so an
	/// alert is raised only when the new thresholds put the value at another level.

private:
	enum class Level
	{
		NORMAL,
		WARNING,
		CRITICAL
	};

	std::array<Thresholds, ALERT_METRIC_COUNT> _thresholds;
	std::array<Level, ALERT_METRIC_COUNT> _levels{};
};


} // namespace PeerVault
} // namespace Switchboard


#endif // Switchboard_PeerVault_Alerts_INCLUDED

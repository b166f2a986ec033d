//
// Alerts.cpp
//


#include "Alerts.h"


namespace Switchboard {
namespace PeerVault {


namespace {


struct MetricText
{
	const char* name;
	const char* type;
	const char* label;      ///< inside "High <label> detected"
	const char* labelFirst; ///< the label starting a sentence
	Thresholds defaults;
};


// Indexed by AlertMetric; the figures are the contract's §6.3 table.
const MetricText METRICS[ALERT_METRIC_COUNT] = {
    {"memory_usage", "performance_alert", "memory usage", "Memory usage", {80, 95}},
    {"cpu_usage", "performance_alert", "CPU usage", "CPU usage", {90, 98}},
    {"connection_usage", "performance_alert", "connection usage", "Connection usage", {80, 95}},
    {"average_response_time", "performance_alert", "average response time", "Average response time", {1000, 5000}},
    {"storage_usage", "storage_alert", "storage usage", "Storage usage", {85, 95}},
};


int indexOf(AlertMetric metric)
/// The table index, or -1 for a value outside the enumeration (a cast integer).
{
	const int index = static_cast<int>(metric);
	return index >= 0 && index < ALERT_METRIC_COUNT ? index : -1;
}


} // namespace


const char* alertMetricName(AlertMetric metric)
{
	const int index = indexOf(metric);
	return index < 0 ? "" : METRICS[index].name;
}


const char* alertType(AlertMetric metric)
{
	const int index = indexOf(metric);
	return index < 0 ? "" : METRICS[index].type;
}


Thresholds defaultThresholds(AlertMetric metric)
{
	const int index = indexOf(metric);
	return index < 0 ? Thresholds() : METRICS[index].defaults;
}


AlertTracker::AlertTracker(const std::array<Thresholds, ALERT_METRIC_COUNT>& thresholds):
    _thresholds(thresholds)
{
	_levels.fill(Level::NORMAL);
}


bool AlertTracker::evaluate(AlertMetric metric, double value, Alert& alert)
{
	const int index = indexOf(metric);
	if (index < 0)
		return false;
	const Thresholds& limits = _thresholds[index];
	// Written so that NaN compares false everywhere and counts as normal.
	Level level = Level::NORMAL;
	if (limits.critical > 0 && value >= limits.critical)
		level = Level::CRITICAL;
	else if (limits.warning > 0 && value >= limits.warning)
		level = Level::WARNING;
	if (level == _levels[index])
		return false;
	_levels[index] = level;

	const MetricText& text = METRICS[index];
	switch (level)
	{
		case Level::CRITICAL:
			alert.level = "critical";
			alert.message = std::string("Critical ") + text.label + " detected";
			alert.threshold = limits.critical;
			break;
		case Level::WARNING:
			alert.level = "warning";
			alert.message = std::string("High ") + text.label + " detected";
			alert.threshold = limits.warning;
			break;
		case Level::NORMAL:
			alert.level = "info";
			alert.message = std::string(text.labelFirst) + " back to normal";
			alert.threshold = limits.warning;
			break;
	}
	return true;
}


void AlertTracker::setThresholds(const std::array<Thresholds, ALERT_METRIC_COUNT>& thresholds)
{
	_thresholds = thresholds;
}


const Thresholds& AlertTracker::thresholds(AlertMetric metric) const
{
	const int index = indexOf(metric);
	return _thresholds[index < 0 ? 0 : index];
}


} // namespace PeerVault
} // namespace Switchboard

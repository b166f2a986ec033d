//
// util/MetricRules.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of which
// metric names, labels and histogram bounds the host accepts, how labels are rendered in the
// Prometheus text format and how a series is keyed. The host's MetricsRegistry and FakeHost both
// use it, so a registration the host refuses is refused in a plugin's unit tests too.
//


#ifndef Switchboard_Util_MetricRules_INCLUDED
#define Switchboard_Util_MetricRules_INCLUDED


#include "switchboard/Metrics.h"
#include "switchboard/util/Names.h"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace MetricRules {


constexpr const char* NAME_PREFIX = "switchboard_"; ///< every exported name starts with it


enum class Kind
{
	COUNTER,
	GAUGE,
	HISTOGRAM
};


inline const char* kindName(Kind kind) noexcept
/// "counter", "gauge" or "histogram", as the # TYPE line spells it.
{
	switch (kind)
	{
		case Kind::COUNTER:
			return "counter";
		case Kind::GAUGE:
			return "gauge";
		case Kind::HISTOGRAM:
			return "histogram";
	}
	return "untyped";
}


inline std::string exportedName(std::string_view scope, std::string_view name)
/// switchboard_<scope>_<name>, or switchboard_<name> for the host's own scope ("").
{
	std::string full = NAME_PREFIX;
	if (!scope.empty())
	{
		full += scope;
		full += '_';
	}
	full += name;
	return full;
}


inline std::string escapeLabelValue(std::string_view value)
/// Backslash, double quote and newline escaped, as the exposition format requires of label values.
{
	std::string out;
	out.reserve(value.size());
	for (char c : value)
	{
		if (c == '\\')
			out += "\\\\";
		else if (c == '"')
			out += "\\\"";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}


inline std::string escapeHelp(std::string_view help)
/// Backslash and newline escaped, as # HELP lines require.
{
	std::string out;
	out.reserve(help.size());
	for (char c : help)
	{
		if (c == '\\')
			out += "\\\\";
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}


inline bool isUtf8(std::string_view text) noexcept
/// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): the
/// exposition format is UTF-8, so a label value must be.
{
	std::size_t i = 0;
	while (i < text.size())
	{
		const auto byte = static_cast<unsigned char>(text[i]);
		std::size_t length = 0;
		unsigned char low = 0x80, high = 0xBF; // the allowed range of the second byte
		if (byte < 0x80)
			length = 1;
		else if (byte >= 0xC2 && byte <= 0xDF)
			length = 2;
		else if (byte >= 0xE0 && byte <= 0xEF)
		{
			length = 3;
			low = byte == 0xE0 ? 0xA0 : 0x80;
			high = byte == 0xED ? 0x9F : 0xBF;
		}
		else if (byte >= 0xF0 && byte <= 0xF4)
		{
			length = 4;
			low = byte == 0xF0 ? 0x90 : 0x80;
			high = byte == 0xF4 ? 0x8F : 0xBF;
		}
		else
			return false;
		if (i + length > text.size())
			return false;
		for (std::size_t k = 1; k < length; ++k)
		{
			const auto next = static_cast<unsigned char>(text[i + k]);
			if (next < (k == 1 ? low : 0x80) || next > (k == 1 ? high : 0xBF))
				return false;
		}
		i += length;
	}
	return true;
}


inline std::string checkName(std::string_view scope, std::string_view name)
/// "" when name (as the caller gives it) and the exported name switchboard_<scope>_<name> are
/// both [a-zA-Z_:][a-zA-Z0-9_:]*, otherwise the reason. (So "9x" is refused although
/// switchboard_echo_9x would be a valid name: the SDK documents the rule for the name itself.)
{
	if (!Names::isMetricName(name) || !Names::isMetricName(exportedName(scope, name)))
		return "invalid metric name (expected [a-zA-Z_:][a-zA-Z0-9_:]*)";
	return std::string();
}


inline std::string checkLabels(const Labels& labels, Kind kind)
/// "" when every label name is [a-zA-Z_][a-zA-Z0-9_]* without a leading "__", no name repeats,
/// every value is UTF-8 and a histogram has no "le" (the bucket label); otherwise the reason,
/// starting "invalid labels: ".
{
	for (std::size_t i = 0; i < labels.size(); ++i)
	{
		const std::string& name = labels[i].first;
		if (name.compare(0, 2, "__") == 0)
			return "invalid labels: label names starting with __ are reserved (" + name + ")";
		if (!Names::isLabelName(name))
			return "invalid labels: \"" + escapeLabelValue(name) +
			       "\" is not a label name (expected [a-zA-Z_][a-zA-Z0-9_]*)";
		for (std::size_t j = 0; j < i; ++j)
		{
			if (labels[j].first == name)
				return "invalid labels: duplicate label " + name;
		}
		if (kind == Kind::HISTOGRAM && name == "le")
			return "invalid labels: \"le\" is reserved for histogram buckets";
		if (!isUtf8(labels[i].second))
			return "invalid labels: the value of " + name + " is not UTF-8";
	}
	return std::string();
}


inline std::string renderLabels(const Labels& labels)
/// The canonical label list without braces: sorted by name, values escaped, no spaces, e.g.
/// a="2",b="x\"y". The same labels in any order give the same text; "" for none.
{
	std::vector<const std::pair<std::string, std::string>*> sorted;
	sorted.reserve(labels.size());
	for (const auto& label : labels)
		sorted.push_back(&label);
	std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
	std::string out;
	for (const auto* label : sorted)
	{
		if (!out.empty())
			out += ',';
		out += label->first;
		out += "=\"";
		out += escapeLabelValue(label->second);
		out += '"';
	}
	return out;
}


inline std::string seriesKey(std::string_view exported, const Labels& labels)
/// What identifies one series: the exported name and the canonical labels, name{labels}.
{
	return std::string(exported) + "{" + renderLabels(labels) + "}";
}


inline std::string normalizeBounds(std::vector<double>& bounds)
/// Checks histogram upper bounds: finite and strictly ascending. A trailing +Inf is implied by
/// the format, so it is accepted and dropped. Returns "" or the reason.
{
	if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0)
		bounds.pop_back();
	for (std::size_t i = 0; i < bounds.size(); ++i)
	{
		if (!std::isfinite(bounds[i]))
			return "histogram bounds must be finite";
		if (i > 0 && bounds[i] <= bounds[i - 1])
			return "histogram bounds must be strictly ascending";
	}
	return std::string();
}


inline std::string checkSeries(Kind kind, std::string_view scope, std::string_view name, const Labels& labels,
                               std::vector<double>* bounds = nullptr)
/// Everything about one registration that does not depend on what else is registered: the name,
/// the labels and, for a histogram, the bounds (normalized in place). "" or the reason.
{
	std::string error = checkName(scope, name);
	if (error.empty())
		error = checkLabels(labels, kind);
	if (error.empty() && kind == Kind::HISTOGRAM && bounds != nullptr)
		error = normalizeBounds(*bounds);
	return error;
}


inline std::string checkReuse(Kind registered, const std::vector<double>& registeredBounds, Kind kind,
                              const std::vector<double>& bounds)
/// A name registered again must keep its type and, for a histogram, its (normalized) bounds.
{
	if (registered != kind)
		return std::string("already registered as a ") + kindName(registered);
	if (kind == Kind::HISTOGRAM && registeredBounds != bounds)
		return "already registered with other histogram bounds";
	return std::string();
}


template <class KindOf>
std::string checkCollision(Kind kind, const std::string& exported, KindOf kindOf)
/// A new family's exposition lines must not collide with another's: histogram h writes h_bucket,
/// h_sum and h_count. kindOf(name) returns a const Kind* for a registered family, else nullptr.
{
	static const char* const suffixes[] = {"_bucket", "_sum", "_count"};
	for (const char* suffixText : suffixes)
	{
		const std::string suffix(suffixText);
		if (kind == Kind::HISTOGRAM && kindOf(exported + suffix) != nullptr)
			return "its " + suffix + " series would collide with the metric " + exported + suffix;
		if (exported.size() > suffix.size() &&
		    exported.compare(exported.size() - suffix.size(), suffix.size(), suffix) == 0)
		{
			const std::string base = exported.substr(0, exported.size() - suffix.size());
			const Kind* other = kindOf(base);
			if (other != nullptr && *other == Kind::HISTOGRAM)
				return "collides with the " + suffix + " series of the histogram " + base;
		}
	}
	return std::string();
}


inline std::string describe(Kind kind, std::string_view exported, const Labels& labels)
/// How a refused registration is named in the log: name{labels} (counter).
{
	std::string text(exported);
	if (!labels.empty())
		text += "{" + renderLabels(labels) + "}";
	return text + " (" + kindName(kind) + ")";
}


} // namespace MetricRules
} // namespace Switchboard


#endif // Switchboard_Util_MetricRules_INCLUDED

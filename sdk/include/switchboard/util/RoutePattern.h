//
// RoutePattern.h
//
// Switchboard SDK: parsing and matching of HTTP route patterns ("/{key}/id", "/files/*"), shared
// by the host's router and FakeHost.
//


#ifndef Switchboard_RoutePattern_INCLUDED
#define Switchboard_RoutePattern_INCLUDED


#include "switchboard/Host.h"
#include "switchboard/Http.h"
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {


class RoutePattern
/// A parsed route pattern, matched against request paths relative to the plugin's mount
/// prefix (the host strips the prefix first).
///
/// Pattern syntax: the pattern starts with '/' and is split at '/' into segments.
///   * "/"          the root: matches "/" (and the empty path, i.e. the bare prefix).
///   * "name"       a literal segment: matches exactly that text (ASCII case ignored when
///                  RouteOptions::caseInsensitive is set).
///   * "{name}"     a parameter: matches exactly one non-empty segment and captures it under
///                  name. Names are letters, digits, '_' and '-'; unique within the pattern.
///   * "*"          only as the last segment: matches the rest of the path, zero or more
///                  segments, captured as the parameter "*" ("/files/*" matches "/files",
///                  "/files/" and "/files/a/b", capturing "", "" and "a/b").
/// Rejected: a pattern not starting with '/', empty segments ("//", or a trailing '/' other
/// than the root pattern itself), '{' or '}' inside a literal, an empty, malformed or
/// duplicate parameter name, '*' anywhere but as the whole last segment, '?', '#', spaces and
/// control characters.
///
/// Matching works on the raw path: captured values are NOT percent-decoded ("%2F" stays three
/// characters and so never splits a segment), literals are compared byte for byte. An empty
/// segment in the path (a doubled slash) never matches a literal or a parameter, only the
/// rest captured by "*". With RouteOptions::allowTrailingSlash exactly one trailing '/' is
/// tolerated after a pattern that does not end in "*".
///
/// Immutable after parse(); const methods are safe from any thread.
{
public:
	RoutePattern() = default;
	/// An empty pattern that matches nothing; fill it with parse().

	static bool parse(std::string_view pattern, RoutePattern& out, std::string& error)
	/// Parses pattern into out. On failure returns false, leaves out unchanged and sets error
	/// to a sentence naming the problem.
	{
		RoutePattern result;
		result._text = std::string(pattern);
		result._valid = true;
		if (pattern.empty() || pattern.front() != '/')
		{
			error = "route pattern '" + std::string(pattern) + "' must start with '/'";
			return false;
		}
		for (char c : pattern)
		{
			unsigned char u = static_cast<unsigned char>(c);
			if (u <= 0x20 || u == 0x7F || c == '?' || c == '#')
			{
				error = "route pattern '" + std::string(pattern) + "' contains a space, control character, '?' or '#'";
				return false;
			}
		}
		if (pattern.size() == 1)
		{
			out = std::move(result);
			return true;
		}

		std::string_view rest = pattern.substr(1);
		while (true)
		{
			std::size_t slash = rest.find('/');
			std::string_view piece = rest.substr(0, slash);
			if (!result._segments.empty() && result._segments.back().kind == Kind::WILDCARD)
			{
				error = "route pattern '" + std::string(pattern) + "': '*' must be the last segment";
				return false;
			}
			if (piece.empty())
			{
				error = "route pattern '" + std::string(pattern) + "' has an empty segment (a doubled or trailing '/')";
				return false;
			}
			if (!result.addSegment(piece, error))
			{
				error = "route pattern '" + std::string(pattern) + "': " + error;
				return false;
			}
			if (slash == std::string_view::npos)
				break;
			rest.remove_prefix(slash + 1);
		}
		out = std::move(result);
		return true;
	}

	bool match(std::string_view path, const RouteOptions& options, HeaderList& params) const
	/// Matches a path relative to the mount prefix (no query string). On a match replaces
	/// params with the captured parameters, in pattern order, and returns true; otherwise
	/// returns false and leaves params alone. A default-constructed pattern matches nothing.
	{
		if (!_valid)
			return false;
		if (path.empty())
			path = "/";
		if (path.front() != '/')
			return false;

		HeaderList captured;
		std::string_view rest = path.substr(1); // what follows the last '/' consumed
		bool consumedSlash = true;              // rest begins right after a '/'
		for (const Segment& segment : _segments)
		{
			if (segment.kind == Kind::WILDCARD)
			{
				captured.emplace_back("*", std::string(rest));
				params = std::move(captured);
				return true;
			}
			if (!consumedSlash)
				return false; // the path has fewer segments than the pattern
			std::size_t slash = rest.find('/');
			std::string_view piece = rest.substr(0, slash);
			if (piece.empty())
				return false; // doubled slash, trailing slash or end of path
			if (segment.kind == Kind::LITERAL)
			{
				bool same =
				    options.caseInsensitive ? HttpText::equalsIgnoreCase(piece, segment.text) : piece == segment.text;
				if (!same)
					return false;
			}
			else
				captured.emplace_back(segment.text, std::string(piece));
			if (slash == std::string_view::npos)
			{
				rest = {};
				consumedSlash = false;
			}
			else
				rest.remove_prefix(slash + 1);
		}

		// Every segment matched. What is left must be nothing, or (when tolerated) the one
		// trailing slash consumed after the last segment. The root pattern never consumed a
		// segment, so for it "/" is the exact match and "//" is a doubled slash.
		bool exact = _segments.empty() ? rest.empty() : !consumedSlash;
		bool trailing = !_segments.empty() && consumedSlash && rest.empty() && options.allowTrailingSlash;
		if (!exact && !trailing)
			return false;
		params = std::move(captured);
		return true;
	}

	std::string_view text() const { return _text; }
	/// The pattern as given to parse().

	bool valid() const { return _valid; }
	/// True once parse() has filled this pattern.

	bool hasWildcard() const { return !_segments.empty() && _segments.back().kind == Kind::WILDCARD; }

	bool sameShape(const RoutePattern& other, bool ignoreCase = false) const
	/// True if both patterns have the same sequence of literal, parameter and wildcard
	/// segments with equal literals (parameter names do not count): they match exactly the
	/// same paths, so registering both for one method is a clash. Pass ignoreCase when either
	/// route is case-insensitive.
	{
		if (!_valid || !other._valid || _segments.size() != other._segments.size())
			return false;
		for (std::size_t i = 0; i < _segments.size(); ++i)
		{
			const Segment& a = _segments[i];
			const Segment& b = other._segments[i];
			if (a.kind != b.kind)
				return false;
			if (a.kind == Kind::LITERAL &&
			    !(ignoreCase ? HttpText::equalsIgnoreCase(a.text, b.text) : a.text == b.text))
				return false;
		}
		return true;
	}

	bool moreSpecificThan(const RoutePattern& other) const
	/// An order for patterns that can match the same path: compared segment by segment, at
	/// the first difference a literal beats a parameter, a parameter beats "*", and a pattern
	/// that has ended beats "*". A router tries the more specific pattern first, so
	/// "/files/index" wins over "/files/{name}", which wins over "/files/*".
	{
		std::size_t n = _segments.size() < other._segments.size() ? _segments.size() : other._segments.size();
		for (std::size_t i = 0; i < n; ++i)
		{
			int a = rank(_segments[i].kind);
			int b = rank(other._segments[i].kind);
			if (a != b)
				return a < b;
		}
		// One pattern is a prefix of the other: only "/x" against "/x/*" can overlap, and the
		// pattern without the wildcard is the more specific one.
		if (_segments.size() < other._segments.size())
			return other._segments[n].kind == Kind::WILDCARD;
		return false;
	}

private:
	enum class Kind
	{
		LITERAL,
		PARAMETER,
		WILDCARD
	};

	struct Segment
	{
		Kind kind;
		std::string text; ///< the literal, or the parameter's name
	};

	static int rank(Kind kind) { return kind == Kind::LITERAL ? 0 : kind == Kind::PARAMETER ? 1 : 2; }

	static bool isNameChar(char c)
	{
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
	}

	bool addSegment(std::string_view piece, std::string& error)
	{
		if (piece == "*")
		{
			_segments.push_back({Kind::WILDCARD, "*"});
			return true;
		}
		if (piece.find('*') != std::string_view::npos)
		{
			error = "'*' must be a whole segment";
			return false;
		}
		if (piece.front() == '{')
		{
			if (piece.size() < 2 || piece.back() != '}')
			{
				error = "segment '" + std::string(piece) + "' must be a literal or a whole {name}";
				return false;
			}
			std::string_view name = piece.substr(1, piece.size() - 2);
			if (name.empty())
			{
				error = "empty parameter name '{}'";
				return false;
			}
			for (char c : name)
			{
				if (!isNameChar(c))
				{
					error = "parameter name '" + std::string(name) + "' may hold only letters, digits, '_' and '-'";
					return false;
				}
			}
			for (const Segment& s : _segments)
			{
				if (s.kind == Kind::PARAMETER && s.text == name)
				{
					error = "duplicate parameter name '" + std::string(name) + "'";
					return false;
				}
			}
			_segments.push_back({Kind::PARAMETER, std::string(name)});
			return true;
		}
		if (piece.find_first_of("{}") != std::string_view::npos)
		{
			error = "'{' or '}' inside the literal segment '" + std::string(piece) + "'";
			return false;
		}
		_segments.push_back({Kind::LITERAL, std::string(piece)});
		return true;
	}

	std::string _text;
	std::vector<Segment> _segments;
	bool _valid = false;
};


} // namespace Switchboard


#endif // Switchboard_RoutePattern_INCLUDED

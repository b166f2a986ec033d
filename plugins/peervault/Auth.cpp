//
// Auth.cpp
//


#include "Auth.h"
#include "Hs256.h"
#include "JsonText.h"
#include <sodium.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <utility>


namespace Switchboard {
namespace PeerVault {


namespace {


// Claims beyond this many seconds (about 127 million years) are clamped, so that milliseconds and
// the leeway added to them stay far inside std::int64_t.
constexpr double MAX_CLAIM_SECONDS = 4e12;
constexpr std::int64_t MAX_LEEWAY_MS = 1000000000000000LL;


bool isJsonSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


std::string_view trimJson(std::string_view text)
{
	while (!text.empty() && isJsonSpace(text.front()))
		text.remove_prefix(1);
	while (!text.empty() && isJsonSpace(text.back()))
		text.remove_suffix(1);
	return text;
}


bool forEachElement(std::string_view array, const std::function<bool(std::string_view)>& visit)
/// Calls visit with the raw text of each element of a JSON array (visit returns false to stop);
/// false when array is not exactly one valid JSON array. JsonText walks objects only.
{
	array = trimJson(array);
	if (array.empty() || array.front() != '[' || !JsonText::isValid(array))
		return false;
	// The text is valid, so only strings and nesting need tracking to find the top-level commas.
	std::size_t pos = 1;
	while (pos < array.size() && isJsonSpace(array[pos]))
		++pos;
	if (array[pos] == ']')
		return true;
	std::size_t start = pos;
	int depth = 0;
	bool inString = false;
	for (; pos < array.size(); ++pos)
	{
		const char c = array[pos];
		if (inString)
		{
			if (c == '\\')
				++pos;
			else if (c == '"')
				inString = false;
			continue;
		}
		if (c == '"')
			inString = true;
		else if (c == '[' || c == '{')
			++depth;
		else if ((c == ']' || c == '}') && depth > 0)
			--depth;
		else if (depth == 0 && (c == ',' || c == ']'))
		{
			if (!visit(trimJson(array.substr(start, pos - start))))
				return true;
			if (c == ']')
				return true;
			start = pos + 1;
		}
	}
	return true;
}


bool stringArray(std::string_view array, std::vector<std::string>& values)
/// values gets the strings of a JSON array of strings; false for anything else.
{
	std::vector<std::string> out;
	bool allStrings = true;
	const bool isArray = forEachElement(array, [&](std::string_view element) {
		std::string value;
		allStrings = JsonText::stringValue(element, value);
		if (allStrings)
			out.push_back(std::move(value));
		return allStrings;
	});
	if (!isArray || !allStrings)
		return false;
	values = std::move(out);
	return true;
}


bool isObject(std::string_view json)
{
	json = trimJson(json);
	return !json.empty() && json.front() == '{' && JsonText::isValid(json);
}


bool secondsClaim(std::string_view token, std::int64_t& millis)
/// A NumericDate (JSON number of seconds, integer or not) as Unix milliseconds.
{
	if (token.empty() || !(token.front() == '-' || (token.front() >= '0' && token.front() <= '9')))
		return false;
	const std::string text(token);
	// Integers exactly, through strtoll; fractions and huge values through a double.
	if (text.find_first_of(".eE") == std::string::npos)
	{
		char* end = nullptr;
		errno = 0;
		const long long seconds = std::strtoll(text.c_str(), &end, 10);
		if (errno == 0 && *end == '\0' && seconds >= -MAX_CLAIM_SECONDS && seconds <= MAX_CLAIM_SECONDS)
		{
			millis = static_cast<std::int64_t>(seconds) * 1000;
			return true;
		}
	}
	char* end = nullptr;
	double seconds = std::strtod(text.c_str(), &end);
	if (*end != '\0' || std::isnan(seconds))
		return false;
	seconds = std::clamp(seconds, -MAX_CLAIM_SECONDS, MAX_CLAIM_SECONDS); // 1e400 is a far future, not an error
	millis = static_cast<std::int64_t>(std::floor(seconds * 1000));
	return true;
}


void addScope(std::vector<std::string>& scopes, std::string scope)
{
	if (!scope.empty() && std::find(scopes.begin(), scopes.end(), scope) == scopes.end())
		scopes.push_back(std::move(scope));
}


bool readScopes(std::string_view claims, std::vector<std::string>& scopes)
/// "scope" (space-separated) then "scopes" (array), both optional, duplicates dropped.
{
	std::string_view raw;
	if (JsonText::member(claims, "scope", raw))
	{
		std::string text;
		if (!JsonText::stringValue(raw, text))
			return false;
		std::size_t start = 0;
		while (start <= text.size())
		{
			std::size_t space = text.find(' ', start);
			if (space == std::string::npos)
				space = text.size();
			addScope(scopes, text.substr(start, space - start));
			start = space + 1;
		}
	}
	if (JsonText::member(claims, "scopes", raw))
	{
		std::vector<std::string> list;
		if (!stringArray(raw, list))
			return false;
		for (std::string& scope : list)
			addScope(scopes, std::move(scope));
	}
	return true;
}


bool audienceMatches(std::string_view raw, const std::string& audience)
{
	std::string single;
	if (JsonText::stringValue(raw, single))
		return single == audience;
	std::vector<std::string> list;
	return stringArray(raw, list) && std::find(list.begin(), list.end(), audience) != list.end();
}


void sha256(std::string_view text, unsigned char (&digest)[crypto_hash_sha256_BYTES])
{
	crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
}


} // namespace


bool parseStaticTokens(std::string_view json, std::vector<StaticToken>& tokens, std::string& why)
{
	json = trimJson(json);
	std::vector<StaticToken> out;
	if (json.empty())
	{
		tokens.clear();
		return true;
	}
	std::string problem;
	int item = 0;
	const bool isArray = forEachElement(json, [&](std::string_view element) {
		++item;
		const std::string prefix = "item " + std::to_string(item) + ": ";
		if (!isObject(element))
		{
			problem = prefix + "must be an object {\"token\", \"name\", \"scopes\"}";
			return false;
		}
		StaticToken token;
		std::string_view raw;
		if (!JsonText::member(element, "token", raw) || !JsonText::stringValue(raw, token.token) || token.token.empty())
			problem = prefix + "\"token\" must be a non-empty string";
		else if (!JsonText::member(element, "name", raw) || !JsonText::stringValue(raw, token.name))
			problem = prefix + "\"name\" must be a string";
		else if (JsonText::member(element, "scopes", raw) && !stringArray(raw, token.scopes))
			problem = prefix + "\"scopes\" must be an array of strings";
		else
		{
			// A misspelt member ("scope") would otherwise silently grant nothing.
			JsonText::forEachMember(element, [&](const std::string& name, std::string_view) {
				if (name != "token" && name != "name" && name != "scopes")
					problem = prefix + "unknown member \"" + name + "\" (expected token, name, scopes)";
				return problem.empty();
			});
		}
		if (problem.empty())
		{
			for (const StaticToken& earlier : out)
			{
				if (earlier.token == token.token)
					problem = prefix + "the same token as an earlier item";
			}
		}
		if (!problem.empty())
			return false;
		out.push_back(std::move(token));
		return true;
	});
	if (!isArray)
		problem = "must be a JSON array of {\"token\", \"name\", \"scopes\"} objects";
	if (!problem.empty())
	{
		why = problem;
		return false;
	}
	tokens = std::move(out);
	return true;
}


bool Identity::hasScope(std::string_view scope) const
{
	return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}


Authenticator::Authenticator(const std::vector<StaticToken>& tokens, JwtRules rules):
    _rules(std::move(rules))
{
	_rules.leewayMs = std::clamp<std::int64_t>(_rules.leewayMs, 0, MAX_LEEWAY_MS);
	// Idempotent and thread-safe. Should libsodium be unusable, no credential is trusted.
	if (sodium_init() < 0)
	{
		_rules.secret.clear();
		return;
	}
	for (const StaticToken& token : tokens)
	{
		if (token.token.empty())
			continue; // an empty credential would match an absent one
		Hashed hashed;
		sha256(token.token, hashed.digest);
		hashed.name = token.name;
		hashed.scopes = token.scopes;
		_tokens.push_back(std::move(hashed));
	}
}


bool Authenticator::check(std::string_view token, std::int64_t nowMs, Identity& identity) const
{
	if (token.empty())
		return false;

	unsigned char digest[crypto_hash_sha256_BYTES];
	sha256(token, digest);
	// Every configured token is compared, so the time taken does not tell which one matched.
	const Hashed* match = nullptr;
	for (const Hashed& hashed : _tokens)
	{
		if (sodium_memcmp(hashed.digest, digest, sizeof(digest)) == 0 && match == nullptr)
			match = &hashed;
	}
	if (match != nullptr)
	{
		identity.subject = match->name;
		identity.scopes = match->scopes;
		identity.expiresAtMs = 0;
		return true;
	}

	std::string claims;
	if (_rules.secret.empty() || !Hs256::verify(_rules.secret, token, claims) || !isObject(claims))
		return false;

	std::string_view raw;
	std::int64_t expiresMs = 0;
	if (!JsonText::member(claims, "exp", raw) || !secondsClaim(raw, expiresMs) || nowMs > expiresMs + _rules.leewayMs)
		return false;
	if (JsonText::member(claims, "nbf", raw))
	{
		std::int64_t notBeforeMs = 0;
		if (!secondsClaim(raw, notBeforeMs) || nowMs < notBeforeMs - _rules.leewayMs)
			return false;
	}
	if (!_rules.issuer.empty())
	{
		std::string issuer;
		if (!JsonText::member(claims, "iss", raw) || !JsonText::stringValue(raw, issuer) || issuer != _rules.issuer)
			return false;
	}
	if (!_rules.audience.empty() && (!JsonText::member(claims, "aud", raw) || !audienceMatches(raw, _rules.audience)))
		return false;
	std::string subject;
	if (JsonText::member(claims, "sub", raw) && !JsonText::stringValue(raw, subject))
		return false;
	std::vector<std::string> scopes;
	if (!readScopes(claims, scopes))
		return false;

	identity.subject = std::move(subject);
	identity.scopes = std::move(scopes);
	identity.expiresAtMs = expiresMs;
	return true;
}


bool Authenticator::canPublish() const
{
	if (!_rules.secret.empty())
		return true;
	for (const Hashed& hashed : _tokens)
	{
		if (std::find(hashed.scopes.begin(), hashed.scopes.end(), "publish") != hashed.scopes.end())
			return true;
	}
	return false;
}


} // namespace PeerVault
} // namespace Switchboard

//
// HttpRules.h
//
// Together's REST conventions (docs/protocols/together.md, "Errors" and "CORS"): every error a
// JSON {"error": ...}; CORS headers on every answer; the body checks in their order (415, then
// 400 for syntax, then 422 for shape); bearer tokens. Pure functions of the request: thread-safe.
//


#ifndef Switchboard_Together_HttpRules_INCLUDED
#define Switchboard_Together_HttpRules_INCLUDED


#include "switchboard/Http.h"
#include <Poco/JSON/Object.h>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Together {


void jsonError(HttpResponse& response, int status, std::string_view message);
/// status with {"error": message} and a JSON content type.

void applyCors(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& origins);
/// origins ["*"] (the default): Access-Control-Allow-Origin *; otherwise the request's Origin when
/// listed, with Vary: Origin. Always the allowed methods and headers; never credentials.

enum class BodyStatus
{
	OK,
	ABSENT ///< no body, or an empty one, where the route allows that
};

bool readJsonBody(const HttpRequest& request, HttpResponse& response, bool required, Poco::JSON::Object::Ptr& body,
                  BodyStatus* status = nullptr);
/// The request's JSON object. False with the answer filled: 415 "Content-Type must be
/// application/json" (a non-empty or required body with another type; a charset is allowed),
/// 400 "Invalid JSON body" (not JSON, or not an object). A missing body that is not required
/// gives true with body null.

class Shape
/// The 422 checks of one body: presence, JSON types and enums, in the order fields are asked.
/// The first problem wins; detail() names the field ("Invalid request body: <detail>").
{
public:
	explicit Shape(const Poco::JSON::Object::Ptr& body);

	Shape& requiredString(const std::string& name, std::string& value);
	Shape& optionalString(const std::string& name, std::string& value, bool& present);
	/// absent: present false; null: present false as well (the caller decides what null means
	/// where that matters, with isNull()).
	Shape& nullableString(const std::string& name, std::string& value, bool& present, bool& isNull);
	Shape& optionalBoolean(const std::string& name, bool& value, bool& present);
	Shape& optionalInteger(const std::string& name, std::int64_t& value, bool& present);
	Shape& requiredEnum(const std::string& name, const std::vector<std::string>& allowed, std::string& value);
	Shape& onlyFields(const std::vector<std::string>& allowed);
	/// For the one route that refuses unknown fields.

	bool ok() const { return _problem.empty(); }
	bool answer(HttpResponse& response) const;
	/// Writes the 422 when there is a problem; returns ok().

	const std::string& detail() const { return _problem; }

private:
	void fail(const std::string& problem);

	Poco::JSON::Object::Ptr _body;
	std::string _problem;
};

bool bearerToken(const HttpRequest& request, std::string& token);
/// The token of "Authorization: Bearer <token>" (the scheme in any case). False when the header
/// is missing or not of that form ("Missing or invalid Authorization header").


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_HttpRules_INCLUDED

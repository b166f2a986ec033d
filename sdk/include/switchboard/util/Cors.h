//
// util/Cors.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): CORS answers for plugin routes.
//


#ifndef Switchboard_Util_Cors_INCLUDED
#define Switchboard_Util_Cors_INCLUDED


#include "switchboard/Http.h"
#include <string>
#include <vector>


namespace Switchboard {


namespace Cors {

inline void applyOrigin(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed)
/// Adds Vary: Origin and, when the request has an Origin that is allowed (any origin when
/// allowed is empty), reflects it in Access-Control-Allow-Origin. Never adds credentials.
{
	std::string_view origin = request.header("Origin");
	bool ok = false;
	if (request.hasHeader("Origin"))
	{
		ok = allowed.empty();
		for (const auto& a : allowed)
			ok = ok || a == origin;
	}
	if (ok)
		response.setHeader("Access-Control-Allow-Origin", std::string(origin));
}

inline void preflight(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed,
                      std::string_view methods = "GET,HEAD,PUT,PATCH,POST,DELETE")
/// Answers an OPTIONS preflight: 204, the origin rule above, the allowed methods and the
/// requested headers echoed back.
{
	response.status = 204;
	response.body.clear();
	applyOrigin(request, response, allowed);
	response.setHeader("Access-Control-Allow-Methods", std::string(methods));
	if (request.hasHeader("Access-Control-Request-Headers"))
		response.setHeader("Access-Control-Allow-Headers",
		                   std::string(request.header("Access-Control-Request-Headers")));
	response.setHeader("Vary", "Origin, Access-Control-Request-Headers");
}

inline void simple(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& allowed)
/// The headers of a non-preflight response: Vary: Origin plus the origin rule.
{
	applyOrigin(request, response, allowed);
	response.setHeader("Vary", "Origin");
}

} // namespace Cors


} // namespace Switchboard


#endif // Switchboard_Util_Cors_INCLUDED

//
// HttpRules.cpp
//


#include "HttpRules.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/Json.h"
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <exception>


namespace Switchboard {
namespace Together {


namespace {


std::string_view trim(std::string_view text)
{
	while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
		text.remove_prefix(1);
	while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
		text.remove_suffix(1);
	return text;
}


bool isJsonContentType(std::string_view value)
{
	// "application/json", any case, optionally followed by parameters such as a charset.
	const std::string_view type = trim(value.substr(0, value.find(';')));
	return HttpText::equalsIgnoreCase(type, "application/json");
}


} // namespace


void jsonError(HttpResponse& response, int status, std::string_view message)
{
	response.json(status, "{\"error\":" + Json::quote(message) + "}");
}


void applyCors(const HttpRequest& request, HttpResponse& response, const std::vector<std::string>& origins)
{
	const bool any = origins.size() == 1 && origins[0] == "*";
	if (any)
		response.setHeader("Access-Control-Allow-Origin", "*");
	else
	{
		const std::string_view origin = request.header("Origin");
		for (const std::string& allowed : origins)
			if (request.hasHeader("Origin") && allowed == origin)
				response.setHeader("Access-Control-Allow-Origin", std::string(origin));
		response.setHeader("Vary", "Origin");
	}
	response.setHeader("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS");
	response.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
}


bool readJsonBody(const HttpRequest& request, HttpResponse& response, bool required, Poco::JSON::Object::Ptr& body,
                  BodyStatus* status)
{
	body = nullptr;
	if (status != nullptr)
		*status = BodyStatus::OK;
	if (request.body.empty() && !required)
	{
		if (status != nullptr)
			*status = BodyStatus::ABSENT;
		return true;
	}
	if (!isJsonContentType(request.header("Content-Type")))
	{
		jsonError(response, 415, "Content-Type must be application/json");
		return false;
	}
	try
	{
		Poco::JSON::Parser parser;
		Poco::Dynamic::Var value = parser.parse(request.body);
		if (value.type() == typeid(Poco::JSON::Object::Ptr))
		{
			body = value.extract<Poco::JSON::Object::Ptr>();
			return true;
		}
	}
	catch (const Poco::Exception&)
	{
	}
	catch (const std::exception&)
	{
	}
	jsonError(response, 400, "Invalid JSON body");
	return false;
}


Shape::Shape(const Poco::JSON::Object::Ptr& body):
    _body(body)
{
}


void Shape::fail(const std::string& problem)
{
	if (_problem.empty())
		_problem = problem;
}


Shape& Shape::requiredString(const std::string& name, std::string& value)
{
	if (!ok())
		return *this;
	if (!_body->has(name) || _body->isNull(name))
		fail(name + ": missing");
	else if (!_body->get(name).isString())
		fail(name + ": expected a string");
	else
		value = _body->get(name).extract<std::string>();
	return *this;
}


Shape& Shape::optionalString(const std::string& name, std::string& value, bool& present)
{
	bool isNull = false;
	nullableString(name, value, present, isNull);
	return *this;
}


Shape& Shape::nullableString(const std::string& name, std::string& value, bool& present, bool& isNull)
{
	present = false;
	isNull = false;
	if (!ok() || !_body->has(name))
		return *this;
	if (_body->isNull(name))
	{
		isNull = true;
		return *this;
	}
	if (!_body->get(name).isString())
		fail(name + ": expected a string or null");
	else
	{
		value = _body->get(name).extract<std::string>();
		present = true;
	}
	return *this;
}


Shape& Shape::optionalBoolean(const std::string& name, bool& value, bool& present)
{
	present = false;
	if (!ok() || !_body->has(name))
		return *this;
	const Poco::Dynamic::Var v = _body->get(name);
	if (v.isEmpty() || v.type() != typeid(bool))
		fail(name + ": expected a boolean");
	else
	{
		value = v.extract<bool>();
		present = true;
	}
	return *this;
}


Shape& Shape::optionalInteger(const std::string& name, std::int64_t& value, bool& present)
{
	present = false;
	if (!ok() || !_body->has(name))
		return *this;
	const Poco::Dynamic::Var v = _body->get(name);
	if (v.isEmpty() || !v.isInteger())
	{
		fail(name + ": expected an integer");
		return *this;
	}
	try
	{
		value = v.convert<Poco::Int64>();
		present = true;
	}
	catch (const Poco::Exception&)
	{
		fail(name + ": expected an integer");
	}
	return *this;
}


Shape& Shape::requiredEnum(const std::string& name, const std::vector<std::string>& allowed, std::string& value)
{
	if (!ok())
		return *this;
	std::string list;
	for (const std::string& a : allowed)
		list += (list.empty() ? "" : ", ") + a;
	std::string text;
	requiredString(name, text);
	if (!ok())
		return *this;
	for (const std::string& a : allowed)
		if (text == a)
		{
			value = text;
			return *this;
		}
	fail(name + ": expected one of " + list);
	return *this;
}


Shape& Shape::onlyFields(const std::vector<std::string>& allowed)
{
	if (!ok())
		return *this;
	for (const auto& member : *_body)
	{
		bool known = false;
		for (const std::string& a : allowed)
			known = known || member.first == a;
		if (!known)
		{
			fail(member.first + ": unknown field");
			break;
		}
	}
	return *this;
}


bool Shape::answer(HttpResponse& response) const
{
	if (ok())
		return true;
	jsonError(response, 422, "Invalid request body: " + _problem);
	return false;
}


bool bearerToken(const HttpRequest& request, std::string& token)
{
	const std::string_view header = trim(request.header("Authorization"));
	const std::size_t space = header.find(' ');
	if (space == std::string_view::npos || !HttpText::equalsIgnoreCase(header.substr(0, space), "Bearer"))
		return false;
	const std::string_view value = trim(header.substr(space + 1));
	if (value.empty() || value.find(' ') != std::string_view::npos)
		return false;
	token = std::string(value);
	return true;
}


} // namespace Together
} // namespace Switchboard

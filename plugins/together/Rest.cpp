//
// Rest.cpp
//
// The REST API (docs/protocols/together.md, "REST API"): one host route takes every request and
// dispatches it here, bare or under /api, so 404, 405, OPTIONS, CORS and the order of checks
// (authentication, path ids, body, values, existence, permission, conflicts) are the same
// everywhere. Handlers run on HTTP worker threads: storage first, then the model under _mutex,
// then the broadcasts, so events always follow the commit.
//


#include "HttpRules.h"
#include "JsonObject.h"
#include "Rules.h"
#include "TogetherPlugin.h"
#include "switchboard/util/Json.h"
#include <Poco/Exception.h>
#include <algorithm>
#include <exception>


namespace Switchboard {
namespace Together {


struct TogetherPlugin::Call
{
	const HttpRequest& request;
	HttpResponse& response;
	std::vector<std::pair<std::string, std::string>> ids; ///< path ids, normalised
	std::string userId;
	Poco::JSON::Object::Ptr body;
	bool bodyAbsent = false;

	const std::string& id(const char* name) const
	{
		for (const auto& entry : ids)
			if (entry.first == name)
				return entry.second;
		static const std::string none;
		return none;
	}
};


namespace {


std::optional<std::string> orNull(const std::string& value, bool present)
{
	return present ? std::optional<std::string>(value) : std::nullopt;
}


Value optionalValue(const std::optional<std::string>& value)
{
	return value ? Value(*value) : Value(nullptr);
}


std::vector<std::string> splitPath(std::string_view path)
{
	std::vector<std::string> segments;
	std::size_t start = 0;
	while (start < path.size())
	{
		std::size_t slash = path.find('/', start);
		if (slash == std::string_view::npos)
			slash = path.size();
		segments.emplace_back(path.substr(start, slash - start));
		start = slash + 1;
	}
	return segments;
}


struct MessageRow
{
	std::string id;
	std::string channelId;
	std::optional<std::string> authorId;
	std::string content;
	std::optional<std::string> replyTo;
	std::int64_t createdAt = 0;
	std::optional<std::int64_t> editedAt;
	bool deleted = false;
};


const char* const MESSAGE_COLUMNS = "id, channel_id, author_id, content, reply_to, created_at, edited_at, deleted";


MessageRow messageFrom(const std::vector<Value>& row)
{
	MessageRow m;
	m.id = valueAsString(row[0]);
	m.channelId = valueAsString(row[1]);
	if (!std::holds_alternative<std::nullptr_t>(row[2]))
		m.authorId = valueAsString(row[2]);
	m.content = valueAsString(row[3]);
	if (!std::holds_alternative<std::nullptr_t>(row[4]))
		m.replyTo = valueAsString(row[4]);
	m.createdAt = valueAsInt(row[5]);
	if (!std::holds_alternative<std::nullptr_t>(row[6]))
		m.editedAt = valueAsInt(row[6]);
	m.deleted = valueAsInt(row[7]) != 0;
	return m;
}


std::string messageDto(const MessageRow& m)
{
	// updated_at (the founding spec's name) and edited_at (the reference's) always agree. The web
	// client reads the mention fields of every MESSAGE_CREATE; we keep no mentions.
	const std::optional<std::string> edited =
	    m.editedAt ? std::optional<std::string>(formatTimestamp(*m.editedAt)) : std::nullopt;
	return JsonObject()
	    .text("id", m.id)
	    .text("channel_id", m.channelId)
	    .optional("author_id", m.authorId)
	    .text("content", m.content)
	    .optional("reply_to", m.replyTo)
	    .text("created_at", formatTimestamp(m.createdAt))
	    .optional("updated_at", edited)
	    .optional("edited_at", edited)
	    .boolean("deleted", false)
	    .raw("mention_user_ids", "[]")
	    .boolean("mention_everyone", false)
	    .str();
}


std::string channelDto(const ChannelInfo& c)
{
	return JsonObject()
	    .text("id", c.id)
	    .text("server_id", c.serverId)
	    .text("name", c.name)
	    .text("type", c.type)
	    .integer("position", c.position)
	    .optional("category", c.category)
	    .optional("topic", c.topic)
	    .text("created_at", formatTimestamp(c.createdAt))
	    .str();
}


template <class Item, class Write>
std::string jsonList(const std::vector<Item>& items, Write write)
/// A JSON array of write(item) for each item.
{
	std::string body = "[";
	for (const Item& item : items)
		body += (body.size() > 1 ? "," : "") + write(item);
	return body + "]";
}


std::string dispatchFrame(const char* type, const std::string& data)
{
	return std::string("{\"op\":\"DISPATCH\",\"t\":\"") + type + "\",\"d\":" + data + "}";
}


bool validStatus(std::string& status)
{
	if (status == "away")
		status = "idle";
	return status == "online" || status == "idle" || status == "dnd" || status == "offline";
}


} // namespace


// --- routing ---------------------------------------------------------------------------------


void TogetherPlugin::registerRoutes()
{
	struct Spec
	{
		const char* method;
		const char* pattern;
		Handler handler;
		bool authenticated;
		bool takesBody;
	};
	static const Spec SPECS[] = {
	    {"GET", "/health", &TogetherPlugin::health, false, false},
	    {"POST", "/auth/register", &TogetherPlugin::authRegister, false, true},
	    {"POST", "/auth/login", &TogetherPlugin::authLogin, false, true},
	    {"POST", "/auth/refresh", &TogetherPlugin::authRefresh, false, true},
	    {"POST", "/auth/logout", &TogetherPlugin::authLogout, false, true},
	    {"GET", "/users/@me", &TogetherPlugin::getMe, true, false},
	    {"PATCH", "/users/@me", &TogetherPlugin::patchMe, true, true},
	    {"POST", "/servers", &TogetherPlugin::createServer, true, true},
	    {"GET", "/servers", &TogetherPlugin::listServers, true, false},
	    {"GET", "/servers/browse", &TogetherPlugin::browseServers, true, false},
	    {"GET", "/servers/:id", &TogetherPlugin::getServer, true, false},
	    {"PATCH", "/servers/:id", &TogetherPlugin::patchServer, true, true},
	    {"DELETE", "/servers/:id", &TogetherPlugin::deleteServer, true, false},
	    {"POST", "/servers/:id/join", &TogetherPlugin::joinServer, true, false},
	    {"DELETE", "/servers/:id/leave", &TogetherPlugin::leaveServer, true, false},
	    {"GET", "/servers/:id/members", &TogetherPlugin::listMembers, true, false},
	    {"POST", "/servers/:id/channels", &TogetherPlugin::createChannel, true, true},
	    {"GET", "/servers/:id/channels", &TogetherPlugin::listChannels, true, false},
	    {"GET", "/servers/:id/channels/:channel_id", &TogetherPlugin::getChannel, true, false},
	    {"PATCH", "/servers/:id/channels/:channel_id", &TogetherPlugin::patchChannel, true, true},
	    {"DELETE", "/servers/:id/channels/:channel_id", &TogetherPlugin::deleteChannel, true, false},
	    {"GET", "/servers/:id/emojis", &TogetherPlugin::emptyList, true, false},
	    {"POST", "/channels/:channel_id/messages", &TogetherPlugin::postMessage, true, true},
	    {"GET", "/channels/:channel_id/messages", &TogetherPlugin::listMessages, true, false},
	    {"GET", "/channels/:channel_id/messages/:message_id/reactions", &TogetherPlugin::emptyList, true, false},
	    {"POST", "/channels/:channel_id/ack", &TogetherPlugin::noContent, true, false},
	    {"PATCH", "/messages/:message_id", &TogetherPlugin::patchMessage, true, true},
	    {"DELETE", "/messages/:message_id", &TogetherPlugin::deleteMessage, true, false},
	    {"POST", "/channels/:channel_id/voice", &TogetherPlugin::joinVoice, true, true},
	    {"PATCH", "/channels/:channel_id/voice", &TogetherPlugin::patchVoice, true, true},
	    {"DELETE", "/channels/:channel_id/voice", &TogetherPlugin::leaveVoice, true, false},
	    {"GET", "/channels/:channel_id/voice", &TogetherPlugin::listVoice, true, false},
	    {"GET", "/instance/registration-mode", &TogetherPlugin::registrationMode, false, false},
	    {"GET", "/dm-channels", &TogetherPlugin::emptyList, true, false},
	    {"POST", "/invites/:id/accept", &TogetherPlugin::acceptInvite, true, false},
	    {"GET", "/ice-servers", &TogetherPlugin::iceServers, true, false},
	    {"GET", "/messages/:message_id/attachments", &TogetherPlugin::emptyList, true, false},
	    {"GET", "/users/:user_id", &TogetherPlugin::getUser, true, false},
	    {"GET", "/server-templates", &TogetherPlugin::emptyList, true, false},
	};
	for (const Spec& spec : SPECS)
		_routes.push_back({spec.method, splitPath(std::string_view(spec.pattern).substr(1)), spec.handler,
		                   spec.authenticated, spec.takesBody});
}


void TogetherPlugin::dispatch(const HttpRequest& request, HttpResponse& response)
{
	// One snapshot for the whole request: a reload meanwhile applies from the next one.
	const std::shared_ptr<const TogetherSettings> current = settings();
	const std::shared_ptr<const StaticFiles> files = webRoot();
	applyCors(request, response, current->corsOrigins);
	std::string_view path = request.path;
	// The host hands over the path below the mount prefix as the route's "*" parameter.
	const std::string rest = "/" + std::string(request.pathParam("*"));
	path = rest;
	bool underApi = false;
	if (path == "/api" || path.substr(0, 5) == "/api/")
	{
		underApi = true;
		path.remove_prefix(4);
	}
	if (path.size() > 1 && path.back() == '/')
		path.remove_suffix(1);
	const std::vector<std::string> segments = splitPath(path.empty() ? path : path.substr(1));

	if (request.method == "OPTIONS")
	{
		response.status = 204;
		return;
	}
	const bool head = request.method == "HEAD";
	const std::string method = head ? "GET" : request.method;

	if (segments.size() == 1 && segments[0] == "ws")
	{
		// The gateway path without a WebSocket upgrade (an upgrade never reaches a route).
		jsonError(response, 400, "WebSocket upgrade required");
		return;
	}

	const Route* match = nullptr;
	std::string allowed;
	for (const Route& route : _routes)
	{
		if (route.segments.size() != segments.size())
			continue;
		bool same = true;
		for (std::size_t i = 0; same && i < segments.size(); ++i)
			same = route.segments[i][0] == ':' ? !segments[i].empty() : route.segments[i] == segments[i];
		if (!same)
			continue;
		// "/servers/browse" is also "/servers/:id": the literal route is listed first and wins.
		if (route.method == method)
		{
			match = &route;
			break;
		}
		if (allowed.find(route.method) == std::string::npos)
			allowed += (allowed.empty() ? "" : ", ") + route.method;
	}

	// A browser navigating to one of the web client's own pages gets the client, not the API.
	const bool navigation = files && method == "GET" && !underApi && !request.hasHeader("Authorization") &&
	                        request.header("Accept").find("text/html") != std::string_view::npos;
	if (navigation || (!match && files && method == "GET" && !underApi && allowed.empty()))
	{
		files->serve(request, response);
		return;
	}
	if (!match)
	{
		if (allowed.empty())
			jsonError(response, 404, "Not found");
		else
		{
			jsonError(response, 405, "Method not allowed");
			response.setHeader("Allow",
			                   allowed + (allowed.find("GET") != std::string::npos ? ", HEAD" : "") + ", OPTIONS");
		}
		return;
	}

	if (segments[0] == "auth")
	{
		std::int64_t retryAfter = 0;
		if (!_authLimit->take(clientIp(request.remoteAddress), _pHost->clock().monotonicMs(), retryAfter))
		{
			jsonError(response, 429, "Too many requests");
			response.setHeader("Retry-After", std::to_string(retryAfter));
			return;
		}
	}

	Call call{request, response, {}, {}, nullptr, false};
	try
	{
		if (match->authenticated && !authenticate(call))
			return;
		for (std::size_t i = 0; i < segments.size(); ++i)
		{
			if (match->segments[i][0] != ':')
				continue;
			std::string normalized;
			if (!parseUuid(segments[i], normalized))
			{
				jsonError(response, 400, "Invalid id in path");
				return;
			}
			call.ids.emplace_back(match->segments[i].substr(1), normalized);
		}
		if (match->takesBody)
		{
			// Voice join takes an optional body; every other body route requires one.
			const bool required = match->handler != &TogetherPlugin::joinVoice;
			BodyStatus status = BodyStatus::OK;
			if (!readJsonBody(request, response, required, call.body, &status))
				return;
			call.bodyAbsent = status == BodyStatus::ABSENT;
		}
		if (_pCluster != nullptr)
		{
			for (const auto& id : call.ids) // made on another node a moment ago: into the mirror now
			{
				if (id.first == "channel_id")
					knowsChannel(id.second, call.userId);
				else if (id.first == "id" && match->segments[0] != "channels")
					knowsServer(id.second, call.userId);
			}
		}
		(this->*(match->handler))(call);
	}
	catch (const Poco::Exception& e)
	{
		_pHost->logger().error("together: " + request.method + " " + std::string(path) + ": " + e.displayText());
		response.headers.clear();
		applyCors(request, response, current->corsOrigins);
		jsonError(response, 500, "Internal server error");
	}
	catch (const std::exception& e)
	{
		_pHost->logger().error("together: " + request.method + " " + std::string(path) + ": " + e.what());
		response.headers.clear();
		applyCors(request, response, current->corsOrigins);
		jsonError(response, 500, "Internal server error");
	}
}


bool TogetherPlugin::authenticate(Call& call)
{
	std::string token;
	if (!bearerToken(call.request, token))
	{
		jsonError(call.response, 401, "Missing or invalid Authorization header");
		return false;
	}
	TokenClaims claims;
	if (_codec->read(token, nowMicros() / 1000000, settings()->tokens.leewaySeconds, claims) != TokenStatus::VALID)
	{
		jsonError(call.response, 401, "Invalid or expired token");
		return false;
	}
	if (claims.tokenType != "access")
	{
		jsonError(call.response, 401, "Invalid token type");
		return false;
	}
	std::string subject;
	bool known = false;
	if (parseUuid(claims.subject, subject))
		known = knowsUser(subject);
	if (!known)
	{
		jsonError(call.response, 401, "Invalid token subject");
		return false;
	}
	call.userId = subject;
	return true;
}


// --- health and accounts ---------------------------------------------------------------------


void TogetherPlugin::health(Call& call)
{
	const bool up = _pHost->storage().execute("SELECT 1").ok;
	std::string body = std::string("{\"status\":\"") + (up ? "ok" : "degraded") +
	                   "\",\"service\":\"together-server\",\"version\":\"" + PLUGIN_VERSION + "\",\"database\":\"" +
	                   (up ? "ok" : "unavailable") + "\"}";
	call.response.json(up ? 200 : 503, body);
}


void TogetherPlugin::authResponse(Call& call, int status, const UserRecord& account, const TokenPair& tokens)
{
	std::string user;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		user = userDto(account.id);
	}
	const std::string body = JsonObject()
	                             .text("access_token", tokens.accessToken)
	                             .text("refresh_token", tokens.refreshToken)
	                             .raw("user", user)
	                             .str();
	call.response.json(status, body);
}


void TogetherPlugin::authRegister(Call& call)
{
	std::string username, email, password;
	bool emailPresent = false, emailNull = false;
	if (!Shape(call.body)
	         .requiredString("username", username)
	         .nullableString("email", email, emailPresent, emailNull)
	         .requiredString("password", password)
	         .answer(call.response))
		return;
	for (const std::string& problem : {usernameError(username), emailError(email), passwordError(password)})
		if (!problem.empty())
			return jsonError(call.response, 400, problem);
	UserRecord user;
	switch (_accounts->create(username, email, password, nowMicros(), user))
	{
		case CreateOutcome::USERNAME_TAKEN:
			return jsonError(call.response, 409, "Username already taken");
		case CreateOutcome::EMAIL_TAKEN:
			return jsonError(call.response, 409, "Email already registered");
		case CreateOutcome::FAILED:
			return jsonError(call.response, 500, "Internal server error");
		case CreateOutcome::CREATED:
			break;
	}
	{
		std::lock_guard<std::mutex> lock(_mutex);
		_users[user.id] = user;
	}
	share("U " + user.id);
	TokenPair tokens;
	if (!_sessions->startFamily(user.id, user.username, nowMicros(), tokens))
		return jsonError(call.response, 500, "Internal server error");
	authResponse(call, 201, user, tokens);
}


void TogetherPlugin::authLogin(Call& call)
{
	std::string username, password;
	if (!Shape(call.body)
	         .requiredString("username", username)
	         .requiredString("password", password)
	         .answer(call.response))
		return;
	if (username.empty() || password.empty())
		return jsonError(call.response, 400, "Username and password are required");
	UserRecord user;
	switch (_accounts->login(username, password, user))
	{
		case LoginOutcome::WRONG:
			return jsonError(call.response, 401, "Invalid username or password");
		case LoginOutcome::FAILED:
			return jsonError(call.response, 500, "Internal server error");
		case LoginOutcome::OK:
			break;
	}
	TokenPair tokens;
	if (!_sessions->startFamily(user.id, user.username, nowMicros(), tokens))
		return jsonError(call.response, 500, "Internal server error");
	knowsUser(user.id); // registered on another node a moment ago: into this node's mirror
	authResponse(call, 200, user, tokens);
}


void TogetherPlugin::authRefresh(Call& call)
{
	std::string refreshToken;
	if (!Shape(call.body).requiredString("refresh_token", refreshToken).answer(call.response))
		return;
	TokenPair tokens;
	std::string userId;
	switch (_sessions->refresh(refreshToken, nowMicros(), tokens, userId))
	{
		case RefreshOutcome::INVALID_TOKEN:
			return jsonError(call.response, 401, "Invalid or expired refresh token");
		case RefreshOutcome::NOT_REFRESH:
			return jsonError(call.response, 401, "Not a refresh token");
		case RefreshOutcome::SESSION_GONE:
			return jsonError(call.response, 401, "Session not found, expired, or token already rotated");
		case RefreshOutcome::STORAGE_ERROR:
			return jsonError(call.response, 500, "Internal server error");
		case RefreshOutcome::ROTATED:
			break;
	}
	UserRecord user;
	user.id = userId;
	authResponse(call, 200, user, tokens);
}


void TogetherPlugin::authLogout(Call& call)
{
	std::string refreshToken;
	if (!Shape(call.body).requiredString("refresh_token", refreshToken).answer(call.response))
		return;
	switch (_sessions->logout(refreshToken, nowMicros()))
	{
		case LogoutOutcome::INVALID_TOKEN:
			return jsonError(call.response, 401, "Invalid or expired refresh token");
		case LogoutOutcome::STORAGE_ERROR:
			return jsonError(call.response, 500, "Internal server error");
		case LogoutOutcome::DONE:
			call.response.status = 204;
			return;
	}
}


void TogetherPlugin::getMe(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	call.response.json(200, userDto(call.userId));
}


void TogetherPlugin::patchMe(Call& call)
{
	std::string avatar, status, custom;
	bool avatarPresent = false, avatarNull = false, statusPresent = false, customPresent = false, customNull = false;
	Shape shape(call.body);
	shape.nullableString("avatar_url", avatar, avatarPresent, avatarNull)
	    .optionalString("status", status, statusPresent)
	    .nullableString("custom_status", custom, customPresent, customNull);
	if (shape.ok() && call.body->has("status") && call.body->isNull("status"))
		shape.requiredString("status", status); // null is not a status: 422 like a wrong type
	if (!shape.answer(call.response))
		return;
	if (statusPresent)
	{
		const std::string given = status;
		if (!validStatus(status))
			return jsonError(call.response, 400,
			                 "Invalid status '" + given + "'. Must be one of: online, idle, dnd, offline");
	}
	if (customPresent && !customStatusError(custom).empty())
		return jsonError(call.response, 400, customStatusError(custom));
	if (avatarPresent && !avatarUrlError(avatar).empty())
		return jsonError(call.response, 400, avatarUrlError(avatar));

	if (avatarPresent || avatarNull || customPresent || customNull)
	{
		const std::int64_t now = nowMicros();
		std::optional<std::string> newAvatar, newCustom;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			const UserRecord& user = _users.at(call.userId);
			newAvatar = (avatarPresent || avatarNull) ? orNull(avatar, avatarPresent) : user.avatarUrl;
			newCustom = (customPresent || customNull) ? orNull(custom, customPresent) : user.customStatus;
		}
		QueryResult r =
		    _pHost->storage().execute("UPDATE users SET avatar_url = ?, custom_status = ?, updated_at = ? WHERE id = ?",
		                              {optionalValue(newAvatar), optionalValue(newCustom), now, call.userId});
		if (!r.ok)
			return jsonError(call.response, 500, "Internal server error");
		std::lock_guard<std::mutex> lock(_mutex);
		UserRecord& user = _users.at(call.userId);
		user.avatarUrl = newAvatar;
		user.updatedAt = now;
		share("U " + call.userId);
	}
	// Status and custom status behave as a gateway PRESENCE_UPDATE from no particular session.
	if (statusPresent || customPresent || customNull)
	{
		std::optional<std::optional<std::string>> customChange;
		if (customPresent || customNull)
			customChange = orNull(custom, customPresent);
		applyPresence(call.userId, statusPresent ? status : std::string(), customChange, 0);
	}
	std::lock_guard<std::mutex> lock(_mutex);
	call.response.json(200, userDto(call.userId));
}


// --- servers and members -----------------------------------------------------------------------


void TogetherPlugin::createServer(Call& call)
{
	std::string name, description, icon;
	bool descriptionPresent = false, descriptionNull = false, iconPresent = false, iconNull = false;
	bool isPublic = false, publicPresent = false;
	if (!Shape(call.body)
	         .requiredString("name", name)
	         .nullableString("description", description, descriptionPresent, descriptionNull)
	         .nullableString("icon_url", icon, iconPresent, iconNull)
	         .optionalBoolean("is_public", isPublic, publicPresent)
	         .answer(call.response))
		return;
	for (const std::string& problem :
	     {serverNameError(name), descriptionPresent ? serverDescriptionError(description) : std::string(),
	      iconPresent ? iconUrlError(icon) : std::string()})
		if (!problem.empty())
			return jsonError(call.response, 400, problem);
	ServerInfo server;
	server.id = newId();
	server.name = name;
	server.description = orNull(description, descriptionPresent);
	server.ownerId = call.userId;
	server.iconUrl = orNull(icon, iconPresent);
	server.isPublic = isPublic;
	server.createdAt = server.updatedAt = nowMicros();
	const bool committed = _pHost->storage().transaction([&](Storage& tx) {
		return tx.execute("INSERT INTO servers (id, name, description, owner_id, icon_url, is_public, created_at, "
		                  "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		                  {server.id, server.name, optionalValue(server.description), server.ownerId,
		                   optionalValue(server.iconUrl), std::int64_t(isPublic ? 1 : 0), server.createdAt,
		                   server.updatedAt})
		           .ok &&
		       tx.execute("INSERT INTO server_members (server_id, user_id, joined_at) VALUES (?, ?, ?)",
		                  {server.id, call.userId, server.createdAt})
		           .ok;
	});
	if (!committed)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	Member owner;
	owner.joinedAt = server.createdAt;
	server.members.emplace(call.userId, owner);
	ServerInfo& stored = _servers[server.id] = std::move(server);
	_userServers[call.userId].insert(stored.id);
	joinGroups(call.userId, stored.id);
	share("S " + stored.id);
	call.response.json(201, serverDto(stored));
}


void TogetherPlugin::listServers(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	std::vector<const ServerInfo*> mine;
	auto ids = _userServers.find(call.userId);
	if (ids != _userServers.end())
		for (const std::string& id : ids->second)
			mine.push_back(&_servers.at(id));
	std::sort(mine.begin(), mine.end(), [](const ServerInfo* a, const ServerInfo* b) {
		return a->createdAt != b->createdAt ? a->createdAt < b->createdAt : a->id < b->id;
	});
	call.response.json(200, jsonList(mine, [this](const ServerInfo* server) { return serverDto(*server); }));
}


void TogetherPlugin::browseServers(Call& call)
{
	// The web client's server browser (not in the contract): public servers, each with whether
	// the caller is already a member.
	std::lock_guard<std::mutex> lock(_mutex);
	std::vector<const ServerInfo*> open;
	for (const auto& entry : _servers)
		if (entry.second.isPublic)
			open.push_back(&entry.second);
	std::sort(open.begin(), open.end(), [](const ServerInfo* a, const ServerInfo* b) {
		return a->members.size() != b->members.size() ? a->members.size() > b->members.size() : a->id < b->id;
	});
	call.response.json(200, jsonList(open, [&](const ServerInfo* server) {
		                   std::string dto = serverDto(*server);
		                   dto.pop_back();
		                   return dto + ",\"is_member\":" + (server->members.count(call.userId) ? "true" : "false") +
		                          "}";
	                   }));
}


void TogetherPlugin::getServer(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	const ServerInfo* server = memberServer(call.id("id"), call.userId);
	if (!server)
		return jsonError(call.response, 404, "Server not found");
	call.response.json(200, serverDto(*server));
}


void TogetherPlugin::patchServer(Call& call)
{
	std::string name, description, icon;
	bool namePresent = false, nameNull = false, descriptionPresent = false, descriptionNull = false;
	bool iconPresent = false, iconNull = false, isPublic = false, publicPresent = false;
	if (!Shape(call.body)
	         .nullableString("name", name, namePresent, nameNull)
	         .nullableString("description", description, descriptionPresent, descriptionNull)
	         .nullableString("icon_url", icon, iconPresent, iconNull)
	         .optionalBoolean("is_public", isPublic, publicPresent)
	         .answer(call.response))
		return;
	if (nameNull)
		return jsonError(call.response, 400, serverNameError(""));
	for (const std::string& problem : {namePresent ? serverNameError(name) : std::string(),
	                                   descriptionPresent ? serverDescriptionError(description) : std::string(),
	                                   iconPresent ? iconUrlError(icon) : std::string()})
		if (!problem.empty())
			return jsonError(call.response, 400, problem);
	const std::string& id = call.id("id");
	ServerInfo updated;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(id, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		if (server->ownerId != call.userId)
			return jsonError(call.response, 403, "Only the server owner can update it");
		updated = *server;
	}
	if (namePresent)
		updated.name = name;
	if (descriptionPresent || descriptionNull)
		updated.description = orNull(description, descriptionPresent);
	if (iconPresent || iconNull)
		updated.iconUrl = orNull(icon, iconPresent);
	if (publicPresent)
		updated.isPublic = isPublic;
	updated.updatedAt = nowMicros();
	QueryResult r = _pHost->storage().execute(
	    "UPDATE servers SET name = ?, description = ?, icon_url = ?, is_public = ?, updated_at = ? WHERE id = ?",
	    {updated.name, optionalValue(updated.description), optionalValue(updated.iconUrl),
	     std::int64_t(updated.isPublic ? 1 : 0), updated.updatedAt, id});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	auto server = _servers.find(id);
	if (server == _servers.end() || r.affectedRows == 0)
		return jsonError(call.response, 404, "Server not found"); // deleted meanwhile
	server->second.name = updated.name;
	server->second.description = updated.description;
	server->second.iconUrl = updated.iconUrl;
	server->second.isPublic = updated.isPublic;
	server->second.updatedAt = updated.updatedAt;
	share("S " + id);
	call.response.json(200, serverDto(server->second));
}


void TogetherPlugin::deleteServer(Call& call)
{
	const std::string& id = call.id("id");
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(id, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		if (server->ownerId != call.userId)
			return jsonError(call.response, 403, "Only the server owner can delete it");
	}
	QueryResult r = _pHost->storage().execute("DELETE FROM servers WHERE id = ?", {id});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	auto server = _servers.find(id);
	if (server == _servers.end())
		return jsonError(call.response, 404, "Server not found");
	// Voice leaves go to the members as they were: publish before the group is emptied.
	std::vector<std::pair<std::string, std::string>> events;
	std::vector<std::string> inVoice;
	for (const auto& state : _voice)
	{
		auto channel = _channels.find(state.second.channelId);
		if (channel != _channels.end() && channel->second.serverId == id)
			inVoice.push_back(state.first);
	}
	for (const std::string& userId : inVoice)
		clearVoice(userId, events);
	for (const auto& event : events)
		_pHost->router().publish("s:" + event.first, event.second);
	for (auto it = _channels.begin(); it != _channels.end();)
		it = it->second.serverId == id ? _channels.erase(it) : std::next(it);
	for (const auto& member : server->second.members)
	{
		leaveGroups(member.first, id);
		auto mine = _userServers.find(member.first);
		if (mine != _userServers.end())
			mine->second.erase(id);
	}
	_servers.erase(server);
	share("S " + id);
	call.response.status = 204;
}


void TogetherPlugin::joinServer(Call& call)
{
	const std::string& id = call.id("id");
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto server = _servers.find(id);
		if (server == _servers.end())
			return jsonError(call.response, 404, "Server not found");
		if (server->second.members.count(call.userId))
			return jsonError(call.response, 409, "Already a member of this server");
	}
	const std::int64_t now = nowMicros();
	QueryResult r = _pHost->storage().execute(
	    "INSERT INTO server_members (server_id, user_id, joined_at) VALUES (?, ?, ?)", {id, call.userId, now});
	std::lock_guard<std::mutex> lock(_mutex);
	auto server = _servers.find(id);
	if (!r.ok)
	{
		// A concurrent join of the same user, or the server deleted meanwhile.
		if (server != _servers.end() && server->second.members.count(call.userId))
			return jsonError(call.response, 409, "Already a member of this server");
		return server == _servers.end() ? jsonError(call.response, 404, "Server not found")
		                                : jsonError(call.response, 500, "Internal server error");
	}
	if (server == _servers.end())
		return jsonError(call.response, 404, "Server not found");
	Member member;
	member.joinedAt = now;
	server->second.members.emplace(call.userId, member);
	_userServers[call.userId].insert(id);
	joinGroups(call.userId, id);
	share("S " + id);
	call.response.json(201, "{\"message\":\"Joined server\"}");
}


void TogetherPlugin::leaveServer(Call& call)
{
	const std::string& id = call.id("id");
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(id, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		if (server->ownerId == call.userId)
			return jsonError(call.response, 400,
			                 "Server owner cannot leave \xE2\x80\x94 transfer ownership or delete the server");
	}
	QueryResult r =
	    _pHost->storage().execute("DELETE FROM server_members WHERE server_id = ? AND user_id = ?", {id, call.userId});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	auto server = _servers.find(id);
	if (server == _servers.end() || r.affectedRows == 0)
		return jsonError(call.response, 404, "Server not found");
	auto state = _voice.find(call.userId);
	if (state != _voice.end())
	{
		auto channel = _channels.find(state->second.channelId);
		if (channel != _channels.end() && channel->second.serverId == id)
		{
			std::vector<std::pair<std::string, std::string>> events;
			clearVoice(call.userId, events);
			for (const auto& event : events)
				_pHost->router().publish("s:" + event.first, event.second); // the leaver's sessions too
		}
	}
	server->second.members.erase(call.userId);
	_userServers[call.userId].erase(id);
	leaveGroups(call.userId, id);
	share("S " + id);
	call.response.status = 204;
}


void TogetherPlugin::listMembers(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	const ServerInfo* server = memberServer(call.id("id"), call.userId);
	if (!server)
		return jsonError(call.response, 404, "Server not found");
	std::vector<std::pair<const std::string*, const Member*>> members;
	for (const auto& entry : server->members)
		members.emplace_back(&entry.first, &entry.second);
	std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
		return a.second->joinedAt != b.second->joinedAt ? a.second->joinedAt < b.second->joinedAt : *a.first < *b.first;
	});
	call.response.json(
	    200, jsonList(members, [this](const auto& member) { return memberDto(*member.first, *member.second); }));
}


// --- channels -----------------------------------------------------------------------------------


void TogetherPlugin::createChannel(Call& call)
{
	std::string name, type, topic, category;
	bool topicPresent = false, topicNull = false, categoryPresent = false, categoryNull = false;
	if (!Shape(call.body)
	         .requiredString("name", name)
	         .requiredEnum("type", {"text", "voice"}, type)
	         .nullableString("topic", topic, topicPresent, topicNull)
	         .nullableString("category", category, categoryPresent, categoryNull)
	         .answer(call.response))
		return;
	for (const std::string& problem : {channelNameError(name), topicPresent ? channelTopicError(topic) : std::string(),
	                                   categoryPresent ? channelCategoryError(category) : std::string()})
		if (!problem.empty())
			return jsonError(call.response, 400, problem);
	const std::string& serverId = call.id("id");
	ChannelInfo channel;
	channel.id = newId();
	channel.serverId = serverId;
	channel.name = name;
	channel.type = type;
	channel.topic = orNull(topic, topicPresent);
	channel.category = orNull(category, categoryPresent);
	channel.createdAt = nowMicros();
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(serverId, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		if (server->ownerId != call.userId)
			return jsonError(call.response, 403, "Only the server owner can create channels");
	}
	// The position is computed inside the insert, so two concurrent creates cannot share one.
	QueryResult r = _pHost->storage().execute(
	    "INSERT INTO channels (id, server_id, name, type, position, category, topic, created_at) "
	    "VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(position) + 1, 0) FROM channels WHERE server_id = ?), ?, ?, ?)",
	    {channel.id, serverId, channel.name, channel.type, serverId, optionalValue(channel.category),
	     optionalValue(channel.topic), channel.createdAt});
	QueryResult position =
	    r.ok ? _pHost->storage().execute("SELECT position FROM channels WHERE id = ?", {channel.id}) : QueryResult();
	if (!r.ok || !position.ok || position.rows.empty())
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (_servers.count(serverId) == 0)
			return jsonError(call.response, 404, "Server not found");
		return jsonError(call.response, 500, "Internal server error");
	}
	channel.position = valueAsInt(position.rows[0][0]);
	std::lock_guard<std::mutex> lock(_mutex);
	if (_servers.count(serverId) == 0)
		return jsonError(call.response, 404, "Server not found");
	_channels[channel.id] = channel;
	share("C " + channel.id);
	call.response.json(201, channelDto(channel));
}


void TogetherPlugin::listChannels(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	const std::string& serverId = call.id("id");
	if (!memberServer(serverId, call.userId))
		return jsonError(call.response, 404, "Server not found");
	std::vector<const ChannelInfo*> channels;
	for (const auto& entry : _channels)
		if (entry.second.serverId == serverId)
			channels.push_back(&entry.second);
	std::sort(channels.begin(), channels.end(), [](const ChannelInfo* a, const ChannelInfo* b) {
		if (a->position != b->position)
			return a->position < b->position;
		return a->createdAt != b->createdAt ? a->createdAt < b->createdAt : a->id < b->id;
	});
	call.response.json(200, jsonList(channels, [](const ChannelInfo* channel) { return channelDto(*channel); }));
}


void TogetherPlugin::getChannel(Call& call)
{
	std::lock_guard<std::mutex> lock(_mutex);
	if (!memberServer(call.id("id"), call.userId))
		return jsonError(call.response, 404, "Server not found");
	auto channel = _channels.find(call.id("channel_id"));
	if (channel == _channels.end() || channel->second.serverId != call.id("id"))
		return jsonError(call.response, 404, "Channel not found");
	call.response.json(200, channelDto(channel->second));
}


void TogetherPlugin::patchChannel(Call& call)
{
	std::string name, topic, category;
	bool namePresent = false, nameNull = false, topicPresent = false, topicNull = false;
	bool categoryPresent = false, categoryNull = false, positionPresent = false;
	std::int64_t position = 0;
	if (!Shape(call.body)
	         .nullableString("name", name, namePresent, nameNull)
	         .nullableString("topic", topic, topicPresent, topicNull)
	         .nullableString("category", category, categoryPresent, categoryNull)
	         .optionalInteger("position", position, positionPresent)
	         .answer(call.response))
		return;
	if (nameNull)
		return jsonError(call.response, 400, channelNameError(""));
	for (const std::string& problem :
	     {namePresent ? channelNameError(name) : std::string(), topicPresent ? channelTopicError(topic) : std::string(),
	      categoryPresent ? channelCategoryError(category) : std::string(),
	      positionPresent && position < 0 ? std::string("Position must be zero or greater") : std::string()})
		if (!problem.empty())
			return jsonError(call.response, 400, problem);
	const std::string& serverId = call.id("id");
	const std::string& channelId = call.id("channel_id");
	ChannelInfo updated;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(serverId, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		auto channel = _channels.find(channelId);
		if (channel == _channels.end() || channel->second.serverId != serverId)
			return jsonError(call.response, 404, "Channel not found");
		if (server->ownerId != call.userId)
			return jsonError(call.response, 403, "Only the server owner can update channels");
		updated = channel->second;
	}
	if (namePresent)
		updated.name = name;
	if (topicPresent || topicNull)
		updated.topic = orNull(topic, topicPresent);
	if (categoryPresent || categoryNull)
		updated.category = orNull(category, categoryPresent);
	if (positionPresent)
		updated.position = position;
	QueryResult r = _pHost->storage().execute(
	    "UPDATE channels SET name = ?, topic = ?, category = ?, position = ? WHERE id = ?",
	    {updated.name, optionalValue(updated.topic), optionalValue(updated.category), updated.position, channelId});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	auto channel = _channels.find(channelId);
	if (channel == _channels.end() || r.affectedRows == 0)
		return jsonError(call.response, 404, "Channel not found");
	channel->second = updated;
	share("C " + channelId);
	call.response.json(200, channelDto(updated));
}


void TogetherPlugin::deleteChannel(Call& call)
{
	const std::string& serverId = call.id("id");
	const std::string& channelId = call.id("channel_id");
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ServerInfo* server = memberServer(serverId, call.userId);
		if (!server)
			return jsonError(call.response, 404, "Server not found");
		auto channel = _channels.find(channelId);
		if (channel == _channels.end() || channel->second.serverId != serverId)
			return jsonError(call.response, 404, "Channel not found");
		if (server->ownerId != call.userId)
			return jsonError(call.response, 403, "Only the server owner can delete channels");
	}
	QueryResult r = _pHost->storage().execute("DELETE FROM channels WHERE id = ?", {channelId});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	std::lock_guard<std::mutex> lock(_mutex);
	if (_channels.count(channelId) == 0)
		return jsonError(call.response, 404, "Channel not found");
	std::vector<std::string> inVoice;
	for (const auto& state : _voice)
		if (state.second.channelId == channelId)
			inVoice.push_back(state.first);
	std::vector<std::pair<std::string, std::string>> events;
	for (const std::string& userId : inVoice)
		clearVoice(userId, events);
	for (const auto& event : events)
		_pHost->router().publish("s:" + event.first, event.second);
	_channels.erase(channelId);
	share("C " + channelId);
	call.response.status = 204;
}


// --- messages -----------------------------------------------------------------------------------


void TogetherPlugin::postMessage(Call& call)
{
	std::string content, replyTo;
	bool replyPresent = false, replyNull = false;
	if (!Shape(call.body)
	         .requiredString("content", content)
	         .nullableString("reply_to", replyTo, replyPresent, replyNull)
	         .answer(call.response))
		return;
	std::string replyId;
	if (replyPresent && !parseUuid(replyTo, replyId))
		return jsonError(call.response, 422, "Invalid request body: reply_to: expected a UUID or null");
	if (!messageContentError(content).empty())
		return jsonError(call.response, 400, messageContentError(content));
	const std::string& channelId = call.id("channel_id");
	std::string serverId;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ChannelInfo* channel = memberChannel(channelId, call.userId);
		if (!channel)
			return jsonError(call.response, 404, "Channel not found");
		if (channel->type != "text")
			return jsonError(call.response, 400, "Channel is not a text channel");
		serverId = channel->serverId;
	}
	if (replyPresent)
	{
		QueryResult target = _pHost->storage().execute(
		    "SELECT 1 FROM messages WHERE id = ? AND channel_id = ? AND deleted = 0", {replyId, channelId});
		if (!target.ok)
			return jsonError(call.response, 500, "Internal server error");
		if (target.rows.empty())
			return jsonError(call.response, 404, "Reply target message not found");
	}
	MessageRow message;
	message.id = newId();
	message.channelId = channelId;
	message.authorId = call.userId;
	message.content = content;
	if (replyPresent)
		message.replyTo = replyId;
	message.createdAt = nowMicros();
	QueryResult r = _pHost->storage().execute(
	    "INSERT INTO messages (id, channel_id, author_id, content, reply_to, created_at) VALUES (?, ?, ?, ?, ?, ?)",
	    {message.id, channelId, call.userId, content, optionalValue(message.replyTo), message.createdAt});
	if (!r.ok)
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (!memberChannel(channelId, call.userId))
			return jsonError(call.response, 404, "Channel not found"); // deleted meanwhile
		return jsonError(call.response, 500, "Internal server error");
	}
	const std::string dto = messageDto(message);
	_pHost->router().publish("s:" + serverId, dispatchFrame("MESSAGE_CREATE", dto));
	call.response.json(201, dto);
}


void TogetherPlugin::listMessages(Call& call)
{
	int limit = DEFAULT_PAGE;
	const HeaderList query = call.request.queryParams();
	std::string limitText, beforeText;
	bool beforeGiven = false;
	for (const auto& param : query)
	{
		if (param.first == "limit" && limitText.empty())
			limitText = param.second;
		if (param.first == "before" && !beforeGiven)
		{
			beforeText = param.second;
			beforeGiven = true;
		}
	}
	if (!pageLimit(limitText, limit))
		return jsonError(call.response, 400, "Invalid query parameter 'limit'");
	std::string before;
	if (beforeGiven && !parseUuid(beforeText, before))
		return jsonError(call.response, 400, "Invalid query parameter 'before'");
	const std::string& channelId = call.id("channel_id");
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ChannelInfo* channel = memberChannel(channelId, call.userId);
		if (!channel)
			return jsonError(call.response, 404, "Channel not found");
		if (channel->type != "text")
			return jsonError(call.response, 400, "Channel is not a text channel");
	}
	QueryResult page;
	const std::string columns = MESSAGE_COLUMNS;
	if (beforeGiven)
	{
		QueryResult anchor = _pHost->storage().execute(
		    "SELECT created_at FROM messages WHERE id = ? AND channel_id = ?", {before, channelId});
		if (!anchor.ok)
			return jsonError(call.response, 500, "Internal server error");
		if (anchor.rows.empty())
			return call.response.json(200, "[]");
		const std::int64_t at = valueAsInt(anchor.rows[0][0]);
		page = _pHost->storage().execute("SELECT " + columns +
		                                     " FROM messages WHERE channel_id = ? AND deleted = 0 AND (created_at < ? "
		                                     "OR (created_at = ? AND id < ?)) "
		                                     "ORDER BY created_at DESC, id DESC LIMIT ?",
		                                 {channelId, at, at, before, std::int64_t(limit)});
	}
	else
		page = _pHost->storage().execute("SELECT " + columns +
		                                     " FROM messages WHERE channel_id = ? AND deleted = 0 "
		                                     "ORDER BY created_at DESC, id DESC LIMIT ?",
		                                 {channelId, std::int64_t(limit)});
	if (!page.ok)
		return jsonError(call.response, 500, "Internal server error");
	call.response.json(200,
	                   jsonList(page.rows, [](const std::vector<Value>& row) { return messageDto(messageFrom(row)); }));
}


void TogetherPlugin::patchMessage(Call& call)
{
	std::string content;
	if (!Shape(call.body).requiredString("content", content).answer(call.response))
		return;
	if (!messageContentError(content).empty())
		return jsonError(call.response, 400, messageContentError(content));
	const std::string& messageId = call.id("message_id");
	QueryResult found = _pHost->storage().execute(
	    "SELECT " + std::string(MESSAGE_COLUMNS) + " FROM messages WHERE id = ? AND deleted = 0", {messageId});
	if (!found.ok)
		return jsonError(call.response, 500, "Internal server error");
	if (found.rows.empty())
		return jsonError(call.response, 404, "Message not found");
	MessageRow message = messageFrom(found.rows[0]);
	std::string serverId;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ChannelInfo* channel = memberChannel(message.channelId, call.userId);
		if (!channel)
			return jsonError(call.response, 404, "Message not found");
		serverId = channel->serverId;
	}
	if (message.authorId != call.userId)
		return jsonError(call.response, 403, "Only the message author can edit it");
	message.content = content;
	message.editedAt = nowMicros();
	QueryResult r =
	    _pHost->storage().execute("UPDATE messages SET content = ?, edited_at = ? WHERE id = ? AND deleted = 0",
	                              {content, *message.editedAt, messageId});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	if (r.affectedRows == 0)
		return jsonError(call.response, 404, "Message not found");
	const std::string dto = messageDto(message);
	_pHost->router().publish("s:" + serverId, dispatchFrame("MESSAGE_UPDATE", dto));
	call.response.json(200, dto);
}


void TogetherPlugin::deleteMessage(Call& call)
{
	const std::string& messageId = call.id("message_id");
	QueryResult found = _pHost->storage().execute(
	    "SELECT " + std::string(MESSAGE_COLUMNS) + " FROM messages WHERE id = ? AND deleted = 0", {messageId});
	if (!found.ok)
		return jsonError(call.response, 500, "Internal server error");
	if (found.rows.empty())
		return jsonError(call.response, 404, "Message not found");
	const MessageRow message = messageFrom(found.rows[0]);
	std::string serverId;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const ChannelInfo* channel = memberChannel(message.channelId, call.userId);
		if (!channel)
			return jsonError(call.response, 404, "Message not found");
		serverId = channel->serverId;
		if (message.authorId != call.userId && _servers.at(serverId).ownerId != call.userId)
			return jsonError(call.response, 403, "Only the message author or server owner can delete it");
	}
	QueryResult r = _pHost->storage().execute(
	    "UPDATE messages SET deleted = 1, content = '' WHERE id = ? AND deleted = 0", {messageId});
	if (!r.ok)
		return jsonError(call.response, 500, "Internal server error");
	if (r.affectedRows == 0)
		return jsonError(call.response, 404, "Message not found"); // a concurrent delete won
	const std::string data = JsonObject().text("id", messageId).text("channel_id", message.channelId).str();
	_pHost->router().publish("s:" + serverId, dispatchFrame("MESSAGE_DELETE", data));
	call.response.status = 204;
}


// --- voice --------------------------------------------------------------------------------------


void TogetherPlugin::joinVoice(Call& call)
{
	std::string sessionId;
	bool sessionGiven = false;
	if (call.body && !Shape(call.body).optionalString("session_id", sessionId, sessionGiven).answer(call.response))
		return;
	const std::string& channelId = call.id("channel_id");
	std::lock_guard<std::mutex> lock(_mutex);
	const ChannelInfo* channel = memberChannel(channelId, call.userId);
	if (!channel)
		return jsonError(call.response, 404, "Channel not found");
	if (channel->type != "voice")
		return jsonError(call.response, 400, "Channel is not a voice channel");
	ConnectionId bound = 0;
	if (sessionGiven)
	{
		auto sessions = _userSessions.find(call.userId);
		if (sessions != _userSessions.end())
			for (ConnectionId id : sessions->second)
				if (_gateway.at(id).sessionId == sessionId)
					bound = id;
		if (bound == 0)
			return jsonError(call.response, 400, "Unknown session_id");
	}
	auto current = _voice.find(call.userId);
	if (current != _voice.end() && current->second.channelId == channelId)
		return call.response.json(201, voiceDto(call.userId, &current->second)); // already here: nothing changes
	VoiceState state;
	state.channelId = channelId;
	state.joinedAt = nowMicros();
	state.boundSession = bound;
	if (current != _voice.end())
	{
		// A move: self flags reset, server flags kept; a leave for the old server if it differs.
		state.serverMute = current->second.serverMute;
		state.serverDeaf = current->second.serverDeaf;
		auto old = _channels.find(current->second.channelId);
		const bool otherServer = old != _channels.end() && old->second.serverId != channel->serverId;
		std::vector<std::pair<std::string, std::string>> events;
		clearVoice(call.userId, events);
		if (otherServer)
			for (const auto& event : events)
				_pHost->router().publish("s:" + event.first, event.second);
	}
	const VoiceState& stored = _voice[call.userId] = state;
	shareVoice(call.userId);
	const std::string dto = voiceDto(call.userId, &stored);
	_pHost->router().publish("s:" + channel->serverId, dispatchFrame("VOICE_STATE_UPDATE", dto));
	call.response.json(201, dto);
}


void TogetherPlugin::patchVoice(Call& call)
{
	bool selfMute = false, selfDeaf = false, muted = false, deafened = false;
	bool selfMuteGiven = false, selfDeafGiven = false, mutedGiven = false, deafenedGiven = false;
	if (!Shape(call.body)
	         .onlyFields({"self_mute", "self_deaf", "muted", "deafened"})
	         .optionalBoolean("self_mute", selfMute, selfMuteGiven)
	         .optionalBoolean("self_deaf", selfDeaf, selfDeafGiven)
	         .optionalBoolean("muted", muted, mutedGiven)
	         .optionalBoolean("deafened", deafened, deafenedGiven)
	         .answer(call.response))
		return;
	if (!selfMuteGiven && !selfDeafGiven && !mutedGiven && !deafenedGiven)
		return jsonError(call.response, 400, "At least one field (self_mute or self_deaf) must be provided");
	const std::string& channelId = call.id("channel_id");
	std::lock_guard<std::mutex> lock(_mutex);
	const ChannelInfo* channel = memberChannel(channelId, call.userId);
	if (!channel)
		return jsonError(call.response, 404, "Channel not found");
	auto state = _voice.find(call.userId);
	if (state == _voice.end() || state->second.channelId != channelId)
		return jsonError(call.response, 404, "Not in this voice channel");
	// The contract's names win over the aliases when both are sent.
	if (selfMuteGiven || mutedGiven)
		state->second.selfMute = selfMuteGiven ? selfMute : muted;
	if (selfDeafGiven || deafenedGiven)
		state->second.selfDeaf = selfDeafGiven ? selfDeaf : deafened;
	shareVoice(call.userId);
	const std::string dto = voiceDto(call.userId, &state->second);
	_pHost->router().publish("s:" + channel->serverId, dispatchFrame("VOICE_STATE_UPDATE", dto));
	call.response.json(200, dto);
}


void TogetherPlugin::leaveVoice(Call& call)
{
	const std::string& channelId = call.id("channel_id");
	std::lock_guard<std::mutex> lock(_mutex);
	if (!memberChannel(channelId, call.userId))
		return jsonError(call.response, 404, "Channel not found");
	auto state = _voice.find(call.userId);
	if (state == _voice.end() || state->second.channelId != channelId)
		return jsonError(call.response, 404, "Not in this voice channel");
	std::vector<std::pair<std::string, std::string>> events;
	clearVoice(call.userId, events);
	for (const auto& event : events)
		_pHost->router().publish("s:" + event.first, event.second);
	call.response.status = 204;
}


void TogetherPlugin::listVoice(Call& call)
{
	const std::string& channelId = call.id("channel_id");
	std::lock_guard<std::mutex> lock(_mutex);
	const ChannelInfo* channel = memberChannel(channelId, call.userId);
	if (!channel)
		return jsonError(call.response, 404, "Channel not found");
	if (channel->type != "voice")
		return jsonError(call.response, 400, "Channel is not a voice channel");
	std::vector<std::pair<const std::string*, const VoiceState*>> here;
	for (const auto& state : _voice)
		if (state.second.channelId == channelId)
			here.emplace_back(&state.first, &state.second);
	std::sort(here.begin(), here.end(), [](const auto& a, const auto& b) {
		return a.second->joinedAt != b.second->joinedAt ? a.second->joinedAt < b.second->joinedAt : *a.first < *b.first;
	});
	call.response.json(200, jsonList(here, [this](const auto& entry) { return voiceDto(*entry.first, entry.second); }));
}


// --- routes the web client calls beyond the contract ---------------------------------------------


void TogetherPlugin::emptyList(Call& call)
{
	call.response.json(200, "[]");
}


void TogetherPlugin::iceServers(Call& call)
{
	// No STUN or TURN server is configured: peers use their host candidates (a LAN, or loopback).
	call.response.json(200, "{\"iceServers\":[],\"ttl\":86400}");
}


void TogetherPlugin::acceptInvite(Call& call)
{
	// A server's id is its invite (docs/protocols/together.md §7): the web client's invite box.
	joinServer(call);
	if (call.response.status == 201)
		call.response.json(201, "{\"message\":\"Joined server\",\"server_id\":\"" + call.id("id") + "\"}");
}


void TogetherPlugin::getUser(Call& call)
{
	// A profile for oneself or someone sharing a server; anyone else does not exist to the caller.
	const std::string& userId = call.id("user_id");
	std::lock_guard<std::mutex> lock(_mutex);
	bool visible = userId == call.userId;
	auto mine = _userServers.find(call.userId);
	if (!visible && mine != _userServers.end())
		for (const std::string& serverId : mine->second)
			visible = visible || _servers.at(serverId).members.count(userId) != 0;
	auto user = _users.find(userId);
	if (!visible || user == _users.end())
		return jsonError(call.response, 404, "User not found");
	call.response.json(200, JsonObject()
	                            .text("id", userId)
	                            .text("username", user->second.username)
	                            .optional("avatar_url", user->second.avatarUrl)
	                            .text("status", presenceOf(userId))
	                            .optional("custom_status", user->second.customStatus)
	                            .text("created_at", formatTimestamp(user->second.createdAt))
	                            .str());
}


void TogetherPlugin::noContent(Call& call)
{
	call.response.status = 204;
}


void TogetherPlugin::registrationMode(Call& call)
{
	call.response.json(200, "{\"registration_mode\":\"open\"}");
}


} // namespace Together
} // namespace Switchboard

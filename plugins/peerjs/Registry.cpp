//
// Registry.cpp
//


#include "Registry.h"
#include <algorithm>


namespace Switchboard {
namespace PeerJs {


Registration* Registry::find(const std::string& id)
{
	auto it = _byId.find(id);
	return it == _byId.end() ? nullptr : &it->second;
}


const Registration* Registry::find(const std::string& id) const
{
	auto it = _byId.find(id);
	return it == _byId.end() ? nullptr : &it->second;
}


Registration& Registry::add(const std::string& id, const std::string& token, ConnectionId connection)
{
	Registration& r = _byId[id];
	r.token = token;
	r.connection = connection;
	r.generation = _nextGeneration++;
	r.order = _nextOrder++;
	changed();
	return r;
}


ConnectionId Registry::reattach(Registration& registration, ConnectionId connection)
{
	ConnectionId old = registration.connection;
	registration.connection = connection;
	registration.generation = _nextGeneration++;
	changed();
	return old;
}


bool Registry::removeIf(const std::string& id, ConnectionId connection)
{
	auto it = _byId.find(id);
	if (it == _byId.end() || it->second.connection != connection)
		return false;
	_byId.erase(it);
	changed();
	return true;
}


bool Registry::isCurrent(const std::string& id, ConnectionId connection) const
{
	auto it = _byId.find(id);
	return it != _byId.end() && it->second.connection == connection;
}


std::vector<std::string> Registry::idsInOrder() const
{
	std::vector<std::pair<std::uint64_t, const std::string*>> ordered;
	ordered.reserve(_byId.size());
	for (const auto& entry : _byId)
		ordered.emplace_back(entry.second.order, &entry.first);
	std::sort(ordered.begin(), ordered.end());
	std::vector<std::string> ids;
	ids.reserve(ordered.size());
	for (const auto& o : ordered)
		ids.push_back(*o.second);
	return ids;
}


} // namespace PeerJs
} // namespace Switchboard

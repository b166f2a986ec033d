//
// PluginNames.cpp
//


#include "plugin/PluginNames.h"
#include "cluster/ClusterNode.h"
#include <openssl/evp.h>
#include <algorithm>


namespace Switchboard {
namespace Core {


PluginNames::PluginNames(std::string plugin, Cluster::ClusterNode* cluster, PostFactory postFactory,
                         CloseOwner closeLost):
    _plugin(std::move(plugin)),
    _cluster(cluster),
    _postFactory(std::move(postFactory)),
    _closeLost(std::move(closeLost))
{
}


std::string PluginNames::secretHash(std::string_view secret)
{
	if (secret.empty())
		return {};
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	EVP_Digest(secret.data(), secret.size(), digest, &length, EVP_sha256(), nullptr);
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	for (unsigned int i = 0; i < length; ++i)
	{
		out += HEX[digest[i] >> 4];
		out += HEX[digest[i] & 15];
	}
	return out;
}


void PluginNames::notify(std::string_view name, ConnectionId owner)
{
	for (auto& w : _watchers)
		w(name, owner);
}


void PluginNames::claim(std::string_view name, ConnectionId owner, std::string_view secret, ClaimCallback done)
{
	Post post = _postFactory();
	std::string hash = secretHash(secret);
	if (!_cluster)
	{
		ClaimResult result = ClaimResult::CLAIMED;
		ConnectionId previous = 0;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			auto it = _held.find(name);
			if (it != _held.end() && it->second.owner != owner)
			{
				if (hash.empty() || it->second.secret != hash)
					result = ClaimResult::TAKEN;
				else
				{
					result = ClaimResult::TAKEN_OVER;
					previous = it->second.owner;
					auto& names = _byOwner[previous];
					names.erase(std::remove(names.begin(), names.end(), name), names.end());
				}
			}
			if (result != ClaimResult::TAKEN && (it == _held.end() || it->second.owner != owner))
			{
				_held[std::string(name)] = Held{owner, hash};
				_byOwner[owner].emplace_back(name);
			}
		}
		if (result != ClaimResult::TAKEN)
			notify(name, owner);
		if (done)
			post([done = std::move(done), result, previous] { done(result, previous); });
		return;
	}
	{
		std::lock_guard<std::mutex> lock(_mutex);
		++_pendingClaims[owner];
	}
	_cluster->claimName(_plugin, name, owner, hash, false,
	                    [this, post, name = std::string(name), owner, hash,
	                     done = std::move(done)](ClaimResult result, ConnectionId previous) mutable {
		                    bool ownerGone = false;
		                    {
			                    std::lock_guard<std::mutex> lock(_mutex);
			                    if (--_pendingClaims[owner] <= 0)
			                    {
				                    _pendingClaims.erase(owner);
				                    auto f = _finishedWhilePending.find(owner);
				                    ownerGone = f != _finishedWhilePending.end();
				                    if (ownerGone)
					                    _finishedWhilePending.erase(f);
			                    }
			                    else
				                    ownerGone = _finishedWhilePending.count(owner) > 0;
		                    }
		                    bool granted = result == ClaimResult::CLAIMED || result == ClaimResult::TAKEN_OVER;
		                    if (granted && ownerGone)
			                    _cluster->releaseName(_plugin, name, owner);
		                    else if (granted)
		                    {
			                    std::lock_guard<std::mutex> lock(_mutex);
			                    auto it = _held.find(name);
			                    if (it != _held.end())
			                    {
				                    auto& names = _byOwner[it->second.owner];
				                    names.erase(std::remove(names.begin(), names.end(), name), names.end());
			                    }
			                    _held[name] = Held{owner, hash};
			                    _byOwner[owner].push_back(name);
		                    }
		                    // The notice (other nodes flush what they queued for the name) leaves after
		                    // the plugin's callback ran on the owner's loop: what the owner is told
		                    // first (PeerJS's OPEN) stays first.
		                    const bool announce = granted && !ownerGone;
		                    post([this, done = std::move(done), result, previous, announce, name, owner] {
			                    if (done)
				                    done(result, previous);
			                    if (announce)
				                    _cluster->announceName(_plugin, name, owner);
		                    });
	                    });
}


void PluginNames::release(std::string_view name, ConnectionId owner)
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto it = _held.find(name);
		if (it == _held.end() || it->second.owner != owner)
		{
			if (!_cluster)
				return;
		}
		else
		{
			_held.erase(it);
			auto o = _byOwner.find(owner);
			if (o != _byOwner.end())
			{
				o->second.erase(std::remove(o->second.begin(), o->second.end(), name), o->second.end());
				if (o->second.empty())
					_byOwner.erase(o);
			}
		}
	}
	if (_cluster)
		_cluster->releaseName(_plugin, name, owner); // compare-and-delete: harmless if not ours
	else
		notify(name, 0);
}


void PluginNames::lookup(std::string_view name, LookupCallback done)
{
	Post post = _postFactory();
	if (!_cluster)
	{
		ConnectionId owner = 0;
		{
			std::lock_guard<std::mutex> lock(_mutex);
			auto it = _held.find(name);
			if (it != _held.end())
				owner = it->second.owner;
		}
		if (done)
			post([done = std::move(done), owner] { done(owner); });
		return;
	}
	_cluster->lookupName(_plugin, name, [post, done = std::move(done)](ConnectionId owner) mutable {
		if (done)
			post([done = std::move(done), owner] { done(owner); });
	});
}


void PluginNames::watch(WatchCallback callback)
{
	if (callback)
		_watchers.push_back(std::move(callback));
}


void PluginNames::connectionFinished(ConnectionId id)
{
	std::vector<std::string> names;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (_pendingClaims.count(id))
			_finishedWhilePending[id] = true;
		auto o = _byOwner.find(id);
		if (o == _byOwner.end())
			return;
		names = std::move(o->second);
		_byOwner.erase(o);
		for (const auto& n : names)
		{
			auto it = _held.find(n);
			if (it != _held.end() && it->second.owner == id)
				_held.erase(it);
		}
	}
	for (const auto& n : names)
	{
		if (_cluster)
			_cluster->releaseName(_plugin, n, id);
		else
			notify(n, 0);
	}
}


void PluginNames::nameChanged(std::string_view name, ConnectionId owner)
{
	{
		// Claimed by a connection elsewhere (a takeover): this node's holder no longer has it.
		std::lock_guard<std::mutex> lock(_mutex);
		auto it = _held.find(name);
		if (it != _held.end() && owner != 0 && it->second.owner != owner)
		{
			auto o = _byOwner.find(it->second.owner);
			if (o != _byOwner.end())
				o->second.erase(std::remove(o->second.begin(), o->second.end(), name), o->second.end());
			_held.erase(it);
		}
	}
	notify(name, owner);
}


void PluginNames::reassert()
{
	if (!_cluster)
		return;
	std::vector<std::pair<std::string, Held>> held;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		held.assign(_held.begin(), _held.end());
	}
	for (auto& h : held)
	{
		ConnectionId owner = h.second.owner;
		_cluster->claimName(_plugin, h.first, owner, h.second.secret, true,
		                    [this, owner, name = h.first](ClaimResult result, ConnectionId) {
			                    if (result != ClaimResult::TAKEN)
				                    return; // kept (or Redis is away again: the next reconnect retries)
			                    {
				                    std::lock_guard<std::mutex> lock(_mutex);
				                    auto it = _held.find(name);
				                    if (it == _held.end() || it->second.owner != owner)
					                    return;
				                    _held.erase(it);
			                    }
			                    _closeLost(owner);
		                    });
	}
}


std::size_t PluginNames::heldCount() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _held.size();
}


} // namespace Core
} // namespace Switchboard

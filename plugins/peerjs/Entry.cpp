//
// Entry.cpp
//
// The PeerJS plugin's entry point: the one symbol the host looks up.
//


#include "PeerJsPlugin.h"


namespace {


const Switchboard::PluginDescriptor& peerJsDescriptor()
{
	static const Switchboard::PluginDescriptor descriptor =
	    Switchboard::makeDescriptor<Switchboard::PeerJs::PeerJsPlugin>(
	        "switchboard.protocol.peerjs", "peerjs", "1.0.0",
	        "PeerJS signaling, wire-compatible with the official peer 1.0.2 server",
	        Switchboard::PeerJs::PeerJsSettings::keys(), Switchboard::PeerJs::PeerJsSettings::keyCount());
	return descriptor;
}


} // namespace


SWITCHBOARD_PLUGIN(peerJsDescriptor)

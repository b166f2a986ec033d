//
// Entry.cpp
//
// The PeerVault plugin's entry point: the one symbol the host looks up.
//


#include "PeerVaultPlugin.h"


SWITCHBOARD_PLUGIN(Switchboard::PeerVault::peervaultDescriptor)

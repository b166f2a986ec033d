//
// Entry.cpp
//
// The GoVPN plugin's entry point: the one symbol the host looks up.
//


#include "GovpnPlugin.h"


SWITCHBOARD_PLUGIN(Switchboard::Govpn::govpnDescriptor)

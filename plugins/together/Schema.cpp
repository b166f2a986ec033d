//
// Schema.cpp
//


#include "Schema.h"


namespace Switchboard {
namespace Together {


std::vector<Migration> togetherMigrations()
{
	// The cascades are the contract's required behaviour: deleting a user removes their sessions,
	// memberships and the servers they own (and with them channels and messages); their messages
	// elsewhere keep their rows with author_id NULL. The page index serves
	// GET /channels/:id/messages, newest first, without the soft-deleted rows.
	return {
	    {1, "CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, email TEXT UNIQUE, "
	        "password_hash TEXT NOT NULL, avatar_url TEXT, custom_status TEXT, created_at INTEGER NOT NULL, "
	        "updated_at INTEGER NOT NULL);"
	        "CREATE TABLE sessions (id TEXT PRIMARY KEY, family_id TEXT NOT NULL, "
	        "user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, token_hash TEXT NOT NULL UNIQUE, "
	        "created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, rotated_at INTEGER);"
	        "CREATE INDEX sessions_user ON sessions(user_id);"
	        "CREATE INDEX sessions_family ON sessions(family_id);"
	        "CREATE INDEX sessions_expiry ON sessions(expires_at);"
	        "CREATE TABLE servers (id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, "
	        "owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, icon_url TEXT, "
	        "created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
	        "CREATE INDEX servers_owner ON servers(owner_id);"
	        "CREATE TABLE server_members (server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE CASCADE, "
	        "user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, nickname TEXT, joined_at INTEGER NOT NULL, "
	        "PRIMARY KEY (server_id, user_id));"
	        "CREATE INDEX server_members_user ON server_members(user_id);"
	        "CREATE TABLE channels (id TEXT PRIMARY KEY, server_id TEXT NOT NULL REFERENCES servers(id) ON DELETE "
	        "CASCADE, name TEXT NOT NULL, type TEXT NOT NULL CHECK (type IN ('text', 'voice')), "
	        "position INTEGER NOT NULL DEFAULT 0, category TEXT, topic TEXT, created_at INTEGER NOT NULL);"
	        "CREATE INDEX channels_server_position ON channels(server_id, position);"
	        "CREATE TABLE messages (id TEXT PRIMARY KEY, channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE "
	        "CASCADE, author_id TEXT REFERENCES users(id) ON DELETE SET NULL, content TEXT NOT NULL, "
	        "reply_to TEXT REFERENCES messages(id) ON DELETE SET NULL, created_at INTEGER NOT NULL, "
	        "edited_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0);"
	        "CREATE INDEX messages_page ON messages(channel_id, created_at DESC, id DESC) WHERE deleted = 0;"
	        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)"},
	    // The web client marks servers public on creation and lists them in its browse dialog
	    // (docs/protocols/together.md, "Routes the web client needs").
	    {2, "ALTER TABLE servers ADD COLUMN is_public INTEGER NOT NULL DEFAULT 0"},
	};
}


} // namespace Together
} // namespace Switchboard

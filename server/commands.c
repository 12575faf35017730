/*
 * commands.c -- the command table, dispatch, and argument/error helpers shared
 * by the command families (t_string.c, t_keys.c, t_expire.c, pubsub.c,
 * t_conn.c, t_server.c, config.c).
 *
 * The table gives each command Redis 7's arity (negative: at least that many
 * arguments, the name included), flags and key positions, which COMMAND reports
 * to clients.  Lookup is a small open-addressing hash built once, so dispatch
 * costs one hash of the lower-cased name.
 */
#include "server.h"
#include "aof.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define R  CMD_READONLY
#define W  CMD_WRITE
#define F  CMD_FAST
#define NA CMD_NOAUTH
#define PS CMD_PUBSUB
#define AD CMD_ADMIN
#define CE CMD_EFFECT

static const redisCommand commands[] = {
	/* connection */
	{"ping", pingCommand, -1, F | PS, 0, 0, 0, "Returns the server's liveliness response.", "connection"},
	{"echo", echoCommand, 2, F, 0, 0, 0, "Returns the given string.", "connection"},
	{"hello", helloCommand, -1, F | NA, 0, 0, 0, "Handshakes with the Redis server.", "connection"},
	{"auth", authCommand, -2, F | NA, 0, 0, 0, "Authenticates the connection.", "connection"},
	{"select", selectCommand, 2, F, 0, 0, 0, "Changes the selected database (namespace).", "connection"},
	{"namespace", namespaceCommand, -2, 0, 0, 0, 0, "Lists, creates, drops or selects engine namespaces.", "connection"},
	{"quit", quitCommand, -1, F | NA | PS, 0, 0, 0, "Closes the connection.", "connection"},
	{"reset", resetCommand, 1, F | NA | PS, 0, 0, 0, "Resets the connection.", "connection"},
	{"client", clientCommand, -2, 0, 0, 0, 0, "A container for client connection commands.", "connection"},
	/* strings */
	{"get", getCommand, 2, R | F, 1, 1, 1, "Returns the string value of a key.", "string"},
	{"set", setCommand, -3, W, 1, 1, 1, "Sets the string value of a key.", "string"},
	{"setnx", setnxCommand, 3, W | F, 1, 1, 1, "Set the string value of a key only when the key doesn't exist.", "string"},
	{"setex", setexCommand, 4, W, 1, 1, 1, "Sets the string value and expiration time of a key.", "string"},
	{"psetex", psetexCommand, 4, W, 1, 1, 1, "Sets the string value and expiration time in milliseconds of a key.", "string"},
	{"getset", getsetCommand, 3, W | F, 1, 1, 1, "Returns the previous string value of a key after setting it to a new value.", "string"},
	{"getdel", getdelCommand, 2, W | F, 1, 1, 1, "Returns the string value of a key after deleting the key.", "string"},
	{"getex", getexCommand, -2, W | F, 1, 1, 1, "Returns the string value of a key after setting its expiration time.", "string"},
	{"mget", mgetCommand, -2, R | F, 1, -1, 1, "Atomically returns the string values of one or more keys.", "string"},
	{"mset", msetCommand, -3, W, 1, -1, 2, "Atomically creates or modifies the string values of one or more keys.", "string"},
	{"msetnx", msetnxCommand, -3, W, 1, -1, 2, "Atomically modifies the string values of one or more keys only when all keys don't exist.", "string"},
	{"incr", incrCommand, 2, W | F, 1, 1, 1, "Increments the integer value of a key by one.", "string"},
	{"decr", decrCommand, 2, W | F, 1, 1, 1, "Decrements the integer value of a key by one.", "string"},
	{"incrby", incrbyCommand, 3, W | F, 1, 1, 1, "Increments the integer value of a key by a number.", "string"},
	{"decrby", decrbyCommand, 3, W | F, 1, 1, 1, "Decrements a number from the integer value of a key.", "string"},
	{"incrbyfloat", incrbyfloatCommand, 3, W | F, 1, 1, 1, "Increment the floating point value of a key by a number.", "string"},
	{"append", appendCommand, 3, W | F, 1, 1, 1, "Appends a string to the value of a key.", "string"},
	{"strlen", strlenCommand, 2, R | F, 1, 1, 1, "Returns the length of a string value.", "string"},
	{"getrange", getrangeCommand, 4, R, 1, 1, 1, "Returns a substring of the string stored at a key.", "string"},
	{"substr", getrangeCommand, 4, R, 1, 1, 1, "Returns a substring from a string value.", "string"},
	{"setrange", setrangeCommand, 4, W, 1, 1, 1, "Overwrites a part of a string value with another by an offset.", "string"},
	/* hashes */
	{"hset", hsetCommand, -4, W | F | CE, 1, 1, 1, "Creates or modifies the value of a field in a hash.", "hash"},
	{"hsetnx", hsetnxCommand, 4, W | F | CE, 1, 1, 1, "Sets the value of a field in a hash only when the field doesn't exist.", "hash"},
	{"hmset", hmsetCommand, -4, W | F | CE, 1, 1, 1, "Sets the values of multiple fields.", "hash"},
	{"hget", hgetCommand, 3, R | F, 1, 1, 1, "Returns the value of a field in a hash.", "hash"},
	{"hmget", hmgetCommand, -3, R | F, 1, 1, 1, "Returns the values of all fields in a hash.", "hash"},
	{"hgetall", hgetallCommand, 2, R, 1, 1, 1, "Returns all fields and values in a hash.", "hash"},
	{"hkeys", hkeysCommand, 2, R, 1, 1, 1, "Returns all fields in a hash.", "hash"},
	{"hvals", hvalsCommand, 2, R, 1, 1, 1, "Returns all values in a hash.", "hash"},
	{"hdel", hdelCommand, -3, W | F | CE, 1, 1, 1, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "hash"},
	{"hexists", hexistsCommand, 3, R | F, 1, 1, 1, "Determines whether a field exists in a hash.", "hash"},
	{"hlen", hlenCommand, 2, R | F, 1, 1, 1, "Returns the number of fields in a hash.", "hash"},
	{"hstrlen", hstrlenCommand, 3, R | F, 1, 1, 1, "Returns the length of the value of a field.", "hash"},
	{"hincrby", hincrbyCommand, 4, W | F | CE, 1, 1, 1, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "hash"},
	{"hincrbyfloat", hincrbyfloatCommand, 4, W | F | CE, 1, 1, 1, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "hash"},
	{"hrandfield", hrandfieldCommand, -2, R, 1, 1, 1, "Returns one or more random fields from a hash.", "hash"},
	{"hscan", hscanCommand, -3, R, 1, 1, 1, "Iterates over fields and values of a hash.", "hash"},
	/* sets */
	{"sadd", saddCommand, -3, W | F | CE, 1, 1, 1, "Adds one or more members to a set. Creates the key if it doesn't exist.", "set"},
	{"srem", sremCommand, -3, W | F | CE, 1, 1, 1, "Removes one or more members from a set. Deletes the set if the last member was removed.", "set"},
	{"sismember", sismemberCommand, 3, R | F, 1, 1, 1, "Determines whether a member belongs to a set.", "set"},
	{"smismember", smismemberCommand, -3, R | F, 1, 1, 1, "Determines whether multiple members belong to a set.", "set"},
	{"smembers", smembersCommand, 2, R, 1, 1, 1, "Returns all members of a set.", "set"},
	{"scard", scardCommand, 2, R | F, 1, 1, 1, "Returns the number of members in a set.", "set"},
	{"spop", spopCommand, -2, W | F | CE, 1, 1, 1, "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "set"},
	{"srandmember", srandmemberCommand, -2, R, 1, 1, 1, "Get one or multiple random members from a set", "set"},
	{"smove", smoveCommand, 4, W | F | CE, 1, 2, 1, "Moves a member from one set to another.", "set"},
	{"sinter", sinterCommand, -2, R, 1, -1, 1, "Returns the intersect of multiple sets.", "set"},
	{"sunion", sunionCommand, -2, R, 1, -1, 1, "Returns the union of multiple sets.", "set"},
	{"sdiff", sdiffCommand, -2, R, 1, -1, 1, "Returns the difference of multiple sets.", "set"},
	{"sinterstore", sinterstoreCommand, -3, W | CE, 1, -1, 1, "Stores the intersect of multiple sets in a key.", "set"},
	{"sunionstore", sunionstoreCommand, -3, W | CE, 1, -1, 1, "Stores the union of multiple sets in a key.", "set"},
	{"sdiffstore", sdiffstoreCommand, -3, W | CE, 1, -1, 1, "Stores the difference of multiple sets in a key.", "set"},
	{"sintercard", sintercardCommand, -3, R, 0, 0, 0, "Returns the number of members of the intersect of multiple sets.", "set"},
	{"sscan", sscanCommand, -3, R, 1, 1, 1, "Iterates over members of a set.", "set"},
	/* keys */
	{"del", delCommand, -2, W, 1, -1, 1, "Deletes one or more keys.", "generic"},
	{"unlink", delCommand, -2, W | F, 1, -1, 1, "Deletes one or more keys.", "generic"},
	{"exists", existsCommand, -2, R | F, 1, -1, 1, "Determines whether one or more keys exist.", "generic"},
	{"type", typeCommand, 2, R | F, 1, 1, 1, "Determines the type of value stored at a key.", "generic"},
	{"rename", renameCommand, 3, W, 1, 2, 1, "Renames a key and overwrites the destination.", "generic"},
	{"renamenx", renamenxCommand, 3, W | F, 1, 2, 1, "Renames a key only when the target key name doesn't exist.", "generic"},
	{"copy", copyCommand, -3, W, 1, 2, 1, "Copies the value of a key to a new key.", "generic"},
	{"sort", sortCommand, -2, W, 1, 1, 1, "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", "generic"},
	{"sort_ro", sortroCommand, -2, R, 1, 1, 1, "Returns the sorted elements of a list, a set, or a sorted set.", "generic"},
	{"move", moveCommand, 3, W | F, 1, 1, 1, "Moves a key to another database.", "generic"},
	{"keys", keysCommand, 2, R, 0, 0, 0, "Returns all key names that match a pattern.", "generic"},
	{"scan", scanCommand, -2, R, 0, 0, 0, "Iterates over the key names in the database.", "generic"},
	{"randomkey", randomkeyCommand, 1, R, 0, 0, 0, "Returns a random key name from the database.", "generic"},
	{"dbsize", dbsizeCommand, 1, R | F, 0, 0, 0, "Returns the number of keys in the database.", "server"},
	{"flushdb", flushdbCommand, -1, W, 0, 0, 0, "Removes all keys from the current database.", "server"},
	{"flushall", flushallCommand, -1, W, 0, 0, 0, "Removes all keys from all databases.", "server"},
	/* expiry */
	{"expire", expireCommand, -3, W | F, 1, 1, 1, "Sets the expiration time of a key in seconds.", "generic"},
	{"pexpire", pexpireCommand, -3, W | F, 1, 1, 1, "Sets the expiration time of a key in milliseconds.", "generic"},
	{"expireat", expireatCommand, -3, W | F, 1, 1, 1, "Sets the expiration time of a key to a Unix timestamp.", "generic"},
	{"pexpireat", pexpireatCommand, -3, W | F, 1, 1, 1, "Sets the expiration time of a key to a Unix milliseconds timestamp.", "generic"},
	{"ttl", ttlCommand, 2, R | F, 1, 1, 1, "Returns the expiration time in seconds of a key.", "generic"},
	{"pttl", pttlCommand, 2, R | F, 1, 1, 1, "Returns the expiration time in milliseconds of a key.", "generic"},
	{"expiretime", expiretimeCommand, 2, R | F, 1, 1, 1, "Returns the expiration time of a key as a Unix timestamp.", "generic"},
	{"pexpiretime", pexpiretimeCommand, 2, R | F, 1, 1, 1, "Returns the expiration time of a key as a Unix milliseconds timestamp.", "generic"},
	{"persist", persistCommand, 2, W | F, 1, 1, 1, "Removes the expiration time of a key.", "generic"},
	/* pub/sub */
	{"subscribe", subscribeCommand, -2, PS, 0, 0, 0, "Listens for messages published to channels.", "pubsub"},
	{"unsubscribe", unsubscribeCommand, -1, PS, 0, 0, 0, "Stops listening to messages posted to channels.", "pubsub"},
	{"psubscribe", psubscribeCommand, -2, PS, 0, 0, 0, "Listens for messages published to channels that match one or more patterns.", "pubsub"},
	{"punsubscribe", punsubscribeCommand, -1, PS, 0, 0, 0, "Stops listening to messages published to channels that match one or more patterns.", "pubsub"},
	{"publish", publishCommand, 3, F, 0, 0, 0, "Posts a message to a channel.", "pubsub"},
	{"pubsub", pubsubCommand, -2, 0, 0, 0, 0, "A container for Pub/Sub commands.", "pubsub"},
	/* server */
	{"command", commandCommand, -1, 0, 0, 0, 0, "Returns detailed information about all commands.", "server"},
	{"info", infoCommand, -1, 0, 0, 0, 0, "Returns information and statistics about the server.", "server"},
	{"config", configCommand, -2, AD, 0, 0, 0, "A container for server configuration commands.", "server"},
	{"time", timeCommand, 1, F, 0, 0, 0, "Returns the server time.", "server"},
	{"save", saveCommand, 1, AD, 0, 0, 0, "Synchronously saves the database(s) to disk.", "server"},
	{"bgsave", bgsaveCommand, -1, AD, 0, 0, 0, "Asynchronously saves the database(s) to disk.", "server"},
	{"object", objectCommand, -2, R, 2, 2, 1, "A container for object introspection commands.", "generic"},
	{"debug", debugCommand, -2, AD, 0, 0, 0, "A container for debugging commands.", "server"},
	{"getbit", getbitCommand, 3, R | F, 1, 1, 1, "Returns a bit value by offset.", "bitmap"},
	{"bitcount", bitcountCommand, -2, R, 1, 1, 1, "Counts the number of set bits (population counting) in a string.", "bitmap"},
	{"bitpos", bitposCommand, -3, R, 1, 1, 1, "Finds the first set (1) or clear (0) bit in a string.", "bitmap"},
	{"setbit", setbitCommand, 4, W, 1, 1, 1, "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "bitmap"},
	{"bitfield", bitfieldCommand, -2, W, 1, 1, 1, "Performs arbitrary bitfield integer operations on strings.", "bitmap"},
	{"bitfield_ro", bitfieldroCommand, -2, R | F, 1, 1, 1, "Performs arbitrary read-only bitfield integer operations on strings.", "bitmap"},
	{"bitop", bitopCommand, -4, W, 2, -1, 1, "Performs bitwise operations on multiple strings, and stores the result.", "bitmap"},
	{"lcs", lcsCommand, -3, R, 1, 2, 1, "Finds the longest common substring.", "string"},
	/* sorted sets */
	{"zadd", zaddCommand, -4, W | F | CE, 1, 1, 1, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "sorted_set"},
	{"zincrby", zincrbyCommand, 4, W | F | CE, 1, 1, 1, "Increments the score of a member in a sorted set.", "sorted_set"},
	{"zrem", zremCommand, -3, W | F | CE, 1, 1, 1, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "sorted_set"},
	{"zscore", zscoreCommand, 3, R | F, 1, 1, 1, "Returns the score of a member in a sorted set.", "sorted_set"},
	{"zmscore", zmscoreCommand, -3, R | F, 1, 1, 1, "Returns the score of one or more members in a sorted set.", "sorted_set"},
	{"zcard", zcardCommand, 2, R | F, 1, 1, 1, "Returns the number of members in a sorted set.", "sorted_set"},
	{"zcount", zcountCommand, 4, R | F, 1, 1, 1, "Returns the count of members in a sorted set that have scores within a range.", "sorted_set"},
	{"zlexcount", zlexcountCommand, 4, R | F, 1, 1, 1, "Returns the number of members in a sorted set within a lexicographical range.", "sorted_set"},
	{"zrank", zrankCommand, -3, R | F, 1, 1, 1, "Returns the index of a member in a sorted set ordered by ascending scores.", "sorted_set"},
	{"zrevrank", zrevrankCommand, -3, R | F, 1, 1, 1, "Returns the index of a member in a sorted set ordered by descending scores.", "sorted_set"},
	{"zrange", zrangeCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a range of indexes.", "sorted_set"},
	{"zrangestore", zrangestoreCommand, -5, W | CE, 1, 2, 1, "Stores a range of members from sorted set in a key.", "sorted_set"},
	{"zrevrange", zrevrangeCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a range of indexes in reverse order.", "sorted_set"},
	{"zrangebyscore", zrangebyscoreCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a range of scores.", "sorted_set"},
	{"zrevrangebyscore", zrevrangebyscoreCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a range of scores in reverse order.", "sorted_set"},
	{"zrangebylex", zrangebylexCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a lexicographical range.", "sorted_set"},
	{"zrevrangebylex", zrevrangebylexCommand, -4, R, 1, 1, 1, "Returns members in a sorted set within a lexicographical range in reverse order.", "sorted_set"},
	{"zremrangebyrank", zremrangebyrankCommand, 4, W | CE, 1, 1, 1, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "sorted_set"},
	{"zremrangebyscore", zremrangebyscoreCommand, 4, W | CE, 1, 1, 1, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "sorted_set"},
	{"zremrangebylex", zremrangebylexCommand, 4, W | CE, 1, 1, 1, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "sorted_set"},
	{"zpopmin", zpopminCommand, -2, W | F | CE, 1, 1, 1, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "sorted_set"},
	{"zpopmax", zpopmaxCommand, -2, W | F | CE, 1, 1, 1, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "sorted_set"},
	{"zrandmember", zrandmemberCommand, -2, R, 1, 1, 1, "Returns one or more random members from a sorted set.", "sorted_set"},
	{"zunion", zunionCommand, -3, R, 0, 0, 0, "Returns the union of multiple sorted sets.", "sorted_set"},
	{"zinter", zinterCommand, -3, R, 0, 0, 0, "Returns the intersect of multiple sorted sets.", "sorted_set"},
	{"zdiff", zdiffCommand, -3, R, 0, 0, 0, "Returns the difference between multiple sorted sets.", "sorted_set"},
	{"zunionstore", zunionstoreCommand, -4, W | CE, 1, 1, 1, "Stores the union of multiple sorted sets in a key.", "sorted_set"},
	{"zinterstore", zinterstoreCommand, -4, W | CE, 1, 1, 1, "Stores the intersect of multiple sorted sets in a key.", "sorted_set"},
	{"zdiffstore", zdiffstoreCommand, -4, W | CE, 1, 1, 1, "Stores the difference of multiple sorted sets in a key.", "sorted_set"},
	{"zintercard", zintercardCommand, -3, R, 0, 0, 0, "Returns the number of members of the intersect of multiple sorted sets.", "sorted_set"},
	{"zscan", zscanCommand, -3, R, 1, 1, 1, "Iterates over members and scores of a sorted set.", "sorted_set"},
	{"bzpopmin", bzpopminCommand, -3, W | F | CE, 1, -2, 1, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "sorted_set"},
	{"bzpopmax", bzpopmaxCommand, -3, W | F | CE, 1, -2, 1, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "sorted_set"},
	/* lists */
	{"lpush", lpushCommand, -3, W | F | CE, 1, 1, 1, "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "list"},
	{"rpush", rpushCommand, -3, W | F | CE, 1, 1, 1, "Appends one or more elements to a list. Creates the key if it doesn't exist.", "list"},
	{"lpushx", lpushxCommand, -3, W | F | CE, 1, 1, 1, "Prepends one or more elements to a list only when the list exists.", "list"},
	{"rpushx", rpushxCommand, -3, W | F | CE, 1, 1, 1, "Appends an element to a list only when the list exists.", "list"},
	{"lpop", lpopCommand, -2, W | F | CE, 1, 1, 1, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "list"},
	{"rpop", rpopCommand, -2, W | F | CE, 1, 1, 1, "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "list"},
	{"llen", llenCommand, 2, R | F, 1, 1, 1, "Returns the length of a list.", "list"},
	{"lrange", lrangeCommand, 4, R, 1, 1, 1, "Returns a range of elements from a list.", "list"},
	{"lindex", lindexCommand, 3, R, 1, 1, 1, "Returns an element from a list by its index.", "list"},
	{"lset", lsetCommand, 4, W | CE, 1, 1, 1, "Sets the value of an element in a list by its index.", "list"},
	{"linsert", linsertCommand, 5, W | CE, 1, 1, 1, "Inserts an element before or after another element in a list.", "list"},
	{"lrem", lremCommand, 4, W | CE, 1, 1, 1, "Removes elements from a list. Deletes the list if the last element was removed.", "list"},
	{"ltrim", ltrimCommand, 4, W | CE, 1, 1, 1, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "list"},
	{"lpos", lposCommand, -3, R, 1, 1, 1, "Returns the index of matching elements in a list.", "list"},
	{"lmove", lmoveCommand, 5, W | CE, 1, 2, 1, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "list"},
	{"rpoplpush", rpoplpushCommand, 3, W | CE, 1, 2, 1, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "list"},
	{"blpop", blpopCommand, -3, W | CE, 1, -2, 1, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "list"},
	{"brpop", brpopCommand, -3, W | CE, 1, -2, 1, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "list"},
	{"blmove", blmoveCommand, 6, W | CE, 1, 2, 1, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "list"},
	{"brpoplpush", brpoplpushCommand, 4, W | CE, 1, 2, 1, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "list"},
	{"multi", multiCommand, 1, F, 0, 0, 0, "Starts a transaction.", "transactions"},
	{"exec", execCommand, 1, 0, 0, 0, 0, "Executes all commands in a transaction.", "transactions"},
	{"discard", discardCommand, 1, F, 0, 0, 0, "Discards a transaction.", "transactions"},
	{"watch", watchCommand, -2, F, 1, -1, 1, "Monitors changes to keys to determine the execution of a transaction.", "transactions"},
	{"unwatch", unwatchCommand, 1, F, 0, 0, 0, "Forgets about watched keys of a transaction.", "transactions"},
	{"bgrewriteaof", bgrewriteaofCommand, 1, AD, 0, 0, 0, "Asynchronously rewrites the append-only file to disk.", "server"},
	{"lastsave", lastsaveCommand, 1, F, 0, 0, 0, "Returns the Unix timestamp of the last successful save to disk.", "server"},
	{"shutdown", shutdownCommand, -1, AD, 0, 0, 0, "Synchronously saves the database(s) to disk and shuts down the server.", "server"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

#define CMD_HASH_SIZE 512 /* power of two, > 2 * NCOMMANDS */
static const redisCommand *cmdHash[CMD_HASH_SIZE];
static pthread_once_t cmdHashOnce = PTHREAD_ONCE_INIT;

static uint32_t hashName(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint32_t)(unsigned char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i])) * 16777619u; /* ASCII, no locale */
	return h;
}

static void buildHash(void)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		uint32_t h = hashName(commands[i].name, strlen(commands[i].name)) & (CMD_HASH_SIZE - 1);
		while (cmdHash[h])
			h = (h + 1) & (CMD_HASH_SIZE - 1);
		cmdHash[h] = &commands[i];
	}
}

const redisCommand *commandLookup(const char *name, size_t len)
{
	pthread_once(&cmdHashOnce, buildHash);
	if (len == 0 || len > 32)
		return NULL;
	uint32_t h = hashName(name, len) & (CMD_HASH_SIZE - 1);
	while (cmdHash[h]) {
		const redisCommand *c = cmdHash[h];
		if (strlen(c->name) == len && strncasecmp(c->name, name, len) == 0)
			return c;
		h = (h + 1) & (CMD_HASH_SIZE - 1);
	}
	return NULL;
}

const redisCommand *commandTable(size_t *n)
{
	*n = NCOMMANDS;
	return commands;
}

/* Redis 7's text for an unknown command: the name and up to ~128 bytes of args. */
static void replyUnknownCommand(client *c, int argc, const char **argv)
{
	char args[300];
	size_t n = 0;
	args[0] = '\0';
	for (int i = 1; i < argc && n < 128; i++) {
		int w = snprintf(args + n, sizeof(args) - n, "'%.*s' ", (int)(128 - n), argv[i]);
		if (w < 0)
			break;
		n += (size_t)w;
		if (n >= sizeof(args))
			n = sizeof(args) - 1;
	}
	addReplyErrorFormat(&c->rb, "unknown command '%.128s', with args beginning with: %s", argv[0], args);
}

static void commandRun(client *c, int argc, const char **argv, const size_t *lens);

void commandExecute(client *c, int argc, const char **argv, const size_t *lens)
{
	/* CLIENT REPLY OFF / SKIP: the command runs, its reply (or error) is dropped */
	size_t mark = c->rb.len;
	int was_off = c->reply_off, skip = c->reply_skip;
	c->reply_skip = 0;
	commandRun(c, argc, argv, lens);
	if (skip || (was_off && c->reply_off))
		c->rb.len = mark;
}

static void commandRun(client *c, int argc, const char **argv, const size_t *lens)
{
	const redisCommand *cmd = commandLookup(argv[0], lens[0]);

	atomic_fetch_add_explicit(&c->w->stat_commands, 1, memory_order_relaxed);
	if (cmd == NULL) {
		replyUnknownCommand(c, argc, argv);
		multiFlagError(c);
		return;
	}
	atomic_store_explicit(&c->last_cmd, cmd->name, memory_order_relaxed);
	if ((cmd->arity > 0 && argc != cmd->arity) || argc < -cmd->arity) {
		replyArity(c, cmd->name);
		multiFlagError(c);
		return;
	}
	if (!c->authenticated && !(cmd->flags & CMD_NOAUTH) && atomic_load(&srv.auth_required)) {
		addReplyError(&c->rb, "-NOAUTH Authentication required.");
		multiFlagError(c);
		return;
	}
	if (c->rb.resp == 2 && !(cmd->flags & CMD_PUBSUB) && (c->nchannels || c->npatterns)) {
		addReplyErrorFormat(&c->rb,
		                    "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
		                    cmd->name);
		return;
	}
	if ((cmd->flags & CMD_WRITE) && aofWriteError()) {
		aofReplyMisconf(&c->rb); /* the log cannot take it: refuse, never lose it silently */
		multiFlagError(c);
		return;
	}
	if (multiQueueing(c) && !multiPassThrough(cmd)) {
		multiQueue(c, cmd, argc, argv, lens);
		return;
	}
	int writes = (cmd->flags & CMD_WRITE) != 0;
	int gated = writes ? multiWriteBegin(c->w) : 0;
	aofCommandBegin();
	if ((cmd->flags & CMD_EFFECT) && aofEnabled())
		commandLockKeys(c, cmd, argc, argv, lens);
	cmd->proc(c, argc, argv, lens);
	aofCommandEnd();
	if (writes)
		multiWriteEnd(c->w, gated);
	if (!multiInExec(c))
		blockingServeReady(c->w); /* waiters of the keys this command filled */
}

int commandMayBatch(client *c)
{
	if (!c->authenticated && atomic_load(&srv.auth_required))
		return 0;
	if (c->rb.resp == 2 && (c->nchannels || c->npatterns))
		return 0;
	return !multiQueueing(c) && !c->reply_off && !c->reply_skip;
}

void commandDispatch(client *c, cmdBatch *batch, int argc, const char **argv, const size_t *lens)
{
	if (batchTryAdd(c, batch, argc, argv, lens))
		return;
	batchFlush(c, batch);
	commandExecute(c, argc, argv, lens);
}

/* ---------------------------------------------------------------- helpers */

/*
 * The keys at cmd's table positions, appended to *keys (growing it); the new
 * count, or (size_t)-1 out of memory.  Used to take a collection write's AOF
 * stripes (aofLockKeys) before it runs.
 */
size_t commandKeys(const redisCommand *cmd, int argc, const char **argv, const size_t *lens,
                   kv_val **keys, size_t n, size_t *cap)
{
	if (cmd->firstkey <= 0 || cmd->step <= 0)
		return n;
	int last = cmd->lastkey < 0 ? argc + cmd->lastkey : cmd->lastkey;
	for (int i = cmd->firstkey; i <= last && i < argc; i += cmd->step) {
		if (n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;
			kv_val *nk = realloc(*keys, ncap * sizeof(*nk));
			if (nk == NULL)
				return (size_t)-1;
			*keys = nk;
			*cap = ncap;
		}
		(*keys)[n].data = argv[i];
		(*keys)[n++].len = lens[i];
	}
	return n;
}

void commandLockKeys(client *c, const redisCommand *cmd, int argc, const char **argv,
                     const size_t *lens)
{
	kv_val *keys = NULL;
	size_t cap = 0, n = commandKeys(cmd, argc, argv, lens, &keys, 0, &cap);
	if (n == (size_t)-1)
		aofEffect(c->dbname, 0, NULL); /* cannot order it: the AOF refuses writes until a rewrite */
	else
		aofLockKeys(c->dbname, keys, n);
	free(keys);
}

int argEq(const char *arg, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(arg, lit, len) == 0;
}

int argToLongLong(const char *s, size_t len, long long *out)
{
	return respParseLL(s, len, out);
}

int argToLongLongOrReply(client *c, const char *s, size_t len, long long *out)
{
	if (!respParseLL(s, len, out)) {
		addReplyError(&c->rb, "value is not an integer or out of range");
		return C_ERR;
	}
	return C_OK;
}

/* As Redis's getLongDoubleFromObject: strtold, no blanks, no NaN.  s is NUL-terminated. */
int argToDouble(const char *s, size_t len, double *out)
{
	char *end;
	if (len == 0 || len > 5000 || isspace((unsigned char)s[0]))
		return 0;
	errno = 0;
	long double v = strtold(s, &end);
	if ((size_t)(end - s) != len || errno == ERANGE || isnan(v))
		return 0;
	*out = (double)v;
	return 1;
}

int argToDoubleOrReply(client *c, const char *s, size_t len, double *out)
{
	if (argToDouble(s, len, out))
		return C_OK;
	addReplyError(&c->rb, "value is not a valid float");
	return C_ERR;
}

int expireArgOrReply(client *c, const char *arg, size_t len, long long unit_ms, int absolute,
                     int positive, const char *cmdname, int64_t *out)
{
	long long v;
	if (argToLongLongOrReply(c, arg, len, &v) != C_OK)
		return C_ERR;
	if ((positive && v <= 0) || v > LLONG_MAX / unit_ms || v < LLONG_MIN / unit_ms)
		goto bad;
	v *= unit_ms;
	if (absolute) {
		/* a time in the past deletes the key: any value at or before now, never a sentinel */
		*out = v < 1 ? 1 : v;
		if (kv_expiry_check(*out) != KV_OK)
			goto bad;
	} else if (kv_expiry_from_ttl_ms(v, out) != KV_OK) {
		goto bad;
	}
	return C_OK;
bad:
	addReplyErrorFormat(&c->rb, "invalid expire time in '%s' command", cmdname);
	return C_ERR;
}

kv_elems *workerElems(client *c)
{
	return &c->w->elems;
}

void workerElemsDone(client *c)
{
	kv_elems *e = &c->w->elems;
	if (e->cap > 4096 || e->bytes.cap > 1024 * 1024)
		kv_elems_free(srv.env, e); /* a big result is not kept for the next command */
}

void countLookup(client *c, int hit)
{
	if (hit)
		atomic_fetch_add_explicit(&c->w->stat_hits, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&c->w->stat_misses, 1, memory_order_relaxed);
}

void replyArity(client *c, const char *name)
{
	addReplyErrorFormat(&c->rb, "wrong number of arguments for '%s' command", name);
}

void replySyntax(client *c)
{
	addReplyError(&c->rb, "syntax error");
}

int replyKvError(client *c, int rc)
{
	switch (rc) {
	case KV_OK:
	case KV_NOTFOUND:
	case KV_EXISTS:
	case KV_UNCHANGED:
		return 0;
	case KV_ENOTINT:
		addReplyError(&c->rb, "value is not an integer or out of range");
		break;
	case KV_EOVERFLOW:
		addReplyError(&c->rb, "increment or decrement would overflow");
		break;
	case KV_ENOTFLOAT:
		addReplyError(&c->rb, "value is not a valid float");
		break;
	case KV_EVALSIZE:
		addReplyError(&c->rb, "string exceeds maximum allowed size (proto-max-bulk-len)");
		break;
	case KV_ENOMEM:
	case KV_EMAXMEM:
	case KV_EMAXKEYS:
		addReplyError(&c->rb, "-OOM command not allowed when used memory > 'maxmemory'.");
		break;
	case KV_EWRONGTYPE:
		addReplyError(&c->rb, "-WRONGTYPE Operation against a key holding the wrong kind of value");
		break;
	case KV_ENONS:
		addReplyError(&c->rb, "the selected namespace was dropped");
		break;
	case KV_EBUSY:
		addReplyError(&c->rb, "-BUSY the namespace is busy with a save, load or resize, try again");
		break;
	case KV_ERANGE:
		addReplyError(&c->rb, "index out of range");
		break;
	default: /* Redis's shape: -ERR and the engine's lower-case text */
		addReplyError(&c->rb, kv_strerror_text(rc));
		break;
	}
	return 1;
}

//go:build !unix

package extract

// oNoFollow is 0 where the platform has no O_NOFOLLOW: the Lstat check
// before the open is the only guard there.
const oNoFollow = 0

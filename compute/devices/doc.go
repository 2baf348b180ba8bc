// Package devices opens compute devices by the names users type (`--device cpu`, `cuda`,
// `cuda:1`) and lists the devices of this machine, with the reason each unusable one cannot
// be used. It is the one place that knows every device implementation.
package devices

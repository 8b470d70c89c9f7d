/* lib.c: console output and string helpers of the tiny test guests (every arch; the UART itself is the board's). */
#include "lib.h"

void puts_uart(const char *s)
{
	while (*s) {
		if (*s == '\n')
			putc_uart('\r');
		putc_uart(*s++);
	}
}

void put_hex(uint64_t v)
{
	char buf[19];
	int i = 18;

	buf[i] = 0;
	do {
		buf[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	buf[--i] = 'x';
	buf[--i] = '0';
	puts_uart(&buf[i]);
}

void put_dec(uint64_t v)
{
	char buf[21];
	int i = 20;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_uart(&buf[i]);
}

size_t tiny_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int tiny_memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

int cmdline_get(const char *cmdline, const char *key, char *buf, size_t len)
{
	size_t klen = tiny_strlen(key);
	const char *p = cmdline;

	while (p && *p) {
		while (*p == ' ')
			p++;
		if (!tiny_memcmp(p, key, klen) && p[klen] == '=') {
			size_t i = 0;

			p += klen + 1;
			while (*p && *p != ' ' && i + 1 < len)
				buf[i++] = *p++;
			buf[i] = 0;
			return 1;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

void tiny_echo(void)
{
	puts_uart("TINY: echo ready\n");
	for (;;) {
		int c = getc_uart();

		if (c == 'q')
			break;
		putc_uart((char)c);
	}
	puts_uart("\nTINY: echo done\n");
}

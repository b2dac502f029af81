/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libvsnprobe's pure parsers: HAProxy CSV statistics, nginx stub_status, Prometheus text and its
 * selectors, the load formula and its clamping, and the HTTP response head, each on real
 * samples and on malformed input.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "probe_internal.h"
#include "vsn_scrape.h"

/* HAProxy 1.6's `show stat` (the columns up to ttime; later versions add more after them). */
static const char haproxy_csv[] =
	"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
	"wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,"
	"throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,"
	"check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,"
	"req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
	"lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,\n"
	"stats,FRONTEND,,,1,2,2000,35,4372,160210,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,1,0,2,,,,0,34,"
	"0,0,0,0,,1,2,35,,,0,0,0,0,,,,,,,,\n"
	"stats,BACKEND,0,0,0,0,200,0,4372,160210,0,0,,0,0,0,0,UP,0,0,0,,0,7262,0,,1,2,0,,0,,1,0,,0,"
	",,,0,0,0,0,0,0,,,,,0,0,0,0,0,0,-1,,,0,0,0,0,\n"
	"http-in,FRONTEND,,,42,97,3000,1220,329654,1883474,0,0,2,,,,,OPEN,,,,,,,,,1,3,0,,,,0,1,0,"
	"12,,,,0,1201,0,17,2,0,,1,12,1220,,,0,0,0,0,,,,,,,,\n"
	"app,web1,0,0,17,45,100,610,164800,941700,,0,,0,0,0,0,UP,1,1,0,0,0,7262,0,,1,4,1,,610,,2,0,"
	",6,L7OK,200,1,0,600,0,8,1,0,0,,,,3,0,,,,,2,OK,,0,0,3,4,\n"
	"app,web2,0,0,25,52,,610,164854,941774,,0,,0,0,0,0,UP,1,1,0,0,0,7262,0,,1,4,2,,610,,2,0,,6,"
	"L7OK,200,1,0,601,0,9,0,0,0,,,,2,0,,,,,1,OK,,0,0,2,3,\n"
	"app,web3,0,0,0,3,100,12,2210,9100,,0,,3,0,0,0,DOWN,1,1,0,4,1,310,310,,1,4,3,,12,,2,0,,1,"
	"L4CON,,0,0,12,0,0,0,0,0,,,,0,0,,,,,-1,\"Layer4 connection problem, info: "
	"\"\"Connection refused\"\"\",,0,0,0,0,\n"
	"app,BACKEND,0,0,42,97,300,1220,329654,1883474,0,0,,3,0,0,0,UP,2,2,0,,0,7262,0,,1,4,0,,"
	"1220,,1,0,,12,,,,0,1201,0,17,2,0,,,,,5,0,0,0,0,0,1,,,0,0,3,4,\n"
	"\n";

/* nginx 1.22's stub_status. */
static const char nginx_status[] = "Active connections: 291 \n"
				   "server accepts handled requests\n"
				   " 16630948 16630948 31070465 \n"
				   "Reading: 6 Writing: 179 Waiting: 106 \n";

/* A Prometheus exposition as the HAProxy exporter and nginx's exporter write them. */
static const char prom[] =
	"# HELP haproxy_frontend_current_sessions Current number of active sessions.\n"
	"# TYPE haproxy_frontend_current_sessions gauge\n"
	"haproxy_frontend_current_sessions{proxy=\"http-in\"} 42\n"
	"haproxy_frontend_current_sessions{proxy=\"stats\"} 1\n"
	"# HELP haproxy_backend_current_sessions Current number of active sessions.\n"
	"# TYPE haproxy_backend_current_sessions gauge\n"
	"haproxy_backend_current_sessions{proxy=\"app\",instance=\"slb-a:8404\"} 37 "
	"1700000000000\n"
	"haproxy_backend_current_sessions{instance=\"slb-a:8404\",proxy=\"a \\\"quoted\\\" "
	"name\\\\x\",} 3\n"
	"\n"
	"  # an indented comment\n"
	"nginx_connections_active 291\n"
	"nginx_up 1\n"
	"process_cpu_seconds_total 1.53e+02\n"
	"vsn_weird{kind=\"nan\"} NaN\n"
	"vsn_weird{kind=\"inf\"} +Inf\n"
	"vsn_weird{kind=\"neg\"} -4.5\n"
	"http_requests_total{code=\"200\"} 1027 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
	"# EOF\n";

static void figures_are(const struct vsn_load_figures *f, double cur, double limit)
{
	assert_true(f->current == cur);
	assert_true(f->limit == limit);
}

static void test_haproxy_rows(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};
	double load;

	assert_int_equal(vsn_scrape_haproxy_csv(haproxy_csv, strlen(haproxy_csv), "app", "BACKEND",
						&f, &err),
			 0);
	figures_are(&f, 42, 300);
	assert_int_equal(vsn_load_compute(&f, 0, &load, &err), 0);
	assert_true(fabs(load - 0.14) < 1e-9);
	assert_int_equal(vsn_scrape_haproxy_csv(haproxy_csv, strlen(haproxy_csv), "http-in",
						"FRONTEND", &f, &err),
			 0);
	figures_are(&f, 42, 3000);
	assert_int_equal(
		vsn_scrape_haproxy_csv(haproxy_csv, strlen(haproxy_csv), "app", "web1", &f, &err),
		0);
	figures_are(&f, 17, 100);
	/* After the quoted field with a comma and doubled quotes, the next row is in step. */
	assert_int_equal(
		vsn_scrape_haproxy_csv(haproxy_csv, strlen(haproxy_csv), "app", "web3", &f, &err),
		0);
	figures_are(&f, 0, 100);
}

/* slim empty: the limit is the configured max, or there is none. */
static void test_haproxy_no_slim(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};
	double load = -1;

	assert_int_equal(
		vsn_scrape_haproxy_csv(haproxy_csv, strlen(haproxy_csv), "app", "web2", &f, &err),
		0);
	figures_are(&f, 25, 0);
	assert_int_equal(vsn_load_compute(&f, 0, &load, &err), -EINVAL);
	assert_true(load == -1);
	assert_non_null(strstr(err.msg, "no limit"));
	assert_int_equal(vsn_load_compute(&f, 50, &load, &err), 0);
	assert_true(load == 0.5);
	assert_true(vsn_load_limit(&f, 50) == 50);
	/* A slim the data states wins over the configured max. */
	f.limit = 100;
	assert_true(vsn_load_limit(&f, 50) == 100);
}

static void expect_csv(const char *csv, const char *px, const char *sv, int want, const char *msg)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};

	assert_int_equal(vsn_scrape_haproxy_csv(csv, strlen(csv), px, sv, &f, &err), want);
	if (msg && !strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
	if (want)
		figures_are(&f, -1, -1);
}

#define CSV_HDR "# pxname,svname,qcur,qmax,scur,smax,slim,\n"

static void test_haproxy_malformed(void **state)
{
	expect_csv(haproxy_csv, "app", "web9", -ENOENT, "no row app/web9");
	expect_csv("", "app", "BACKEND", -EBADMSG, "no header line");
	expect_csv("app,BACKEND,0,0,42,97,300,\n", "app", "BACKEND", -EBADMSG,
		   "line 1: a row before the header");
	expect_csv("# pxname,svname,qcur,qmax,smax,slim,\napp,BACKEND,0,0,97,300,\n", "app",
		   "BACKEND", -EBADMSG, "no scur column");
	expect_csv(CSV_HDR "app,BACKEND,0,0,forty,97,300,\n", "app", "BACKEND", -EBADMSG,
		   "line 2: scur is not a number");
	expect_csv(CSV_HDR "app,BACKEND,0,0,,97,300,\n", "app", "BACKEND", -EBADMSG,
		   "scur is empty");
	expect_csv(CSV_HDR "app,BACKEND,0,0,42,97,-3,\n", "app", "BACKEND", -EBADMSG,
		   "slim is not a number");
	expect_csv(CSV_HDR "app,BACKEND,0,0,42\n", "app", "BACKEND", -EBADMSG, "line 2: no slim");
	expect_csv(CSV_HDR "app,\"BACK,0,0,42,97,300,\n", "app", "BACKEND", -EBADMSG,
		   "malformed field");
	expect_csv(CSV_HDR "app,\"BACKEND\"x,0,0,42,97,300,\n", "app", "BACKEND", -EBADMSG,
		   "malformed field");
	expect_csv(CSV_HDR "app,BACKEND,0,0,99999999999999999999,97,300,\n", "app", "BACKEND",
		   -EBADMSG, "scur is not a number");
	expect_csv(CSV_HDR "app,BACKEND,0,0,1,97,300,\napp,BACKEND,0,0,2,97,300,\n", "app",
		   "BACKEND", -EEXIST, "2 rows app/BACKEND");
}

static void test_haproxy_variants(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};
	static const char crlf[] = "# pxname,svname,qcur,qmax,scur,smax,slim,\r\n"
				   "\"app\",\"BACKEND\",0,0,7,97,70\r\n";
	static const char quoted[] = CSV_HDR "\"a \"\"b\"\"\",BACKEND,0,0,9,9,90,\n";
	static const char no_eol[] = CSV_HDR "app,BACKEND,0,0,3,9,30,";

	assert_int_equal(vsn_scrape_haproxy_csv(crlf, strlen(crlf), "app", "BACKEND", &f, &err), 0);
	figures_are(&f, 7, 70);
	assert_int_equal(
		vsn_scrape_haproxy_csv(quoted, strlen(quoted), "a \"b\"", "BACKEND", &f, &err), 0);
	figures_are(&f, 9, 90);
	assert_int_equal(vsn_scrape_haproxy_csv(no_eol, strlen(no_eol), "app", "BACKEND", &f, &err),
			 0);
	figures_are(&f, 3, 30);
	/* The length bounds the parse: a prefix that stops inside the row finds no row. */
	assert_int_equal(
		vsn_scrape_haproxy_csv(no_eol, strlen(CSV_HDR) + 5, "app", "BACKEND", &f, &err),
		-EBADMSG);
}

static void test_nginx(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};
	double load;

	assert_int_equal(vsn_scrape_nginx_status(nginx_status, strlen(nginx_status), &f, &err), 0);
	figures_are(&f, 291, 0);
	assert_int_equal(vsn_load_compute(&f, 1000, &load, &err), 0);
	assert_true(fabs(load - 0.291) < 1e-9);
	/* Over the configured limit: clamped to 1. */
	assert_int_equal(vsn_load_compute(&f, 200, &load, &err), 0);
	assert_true(load == 1);
}

static void expect_nginx(const char *s, const char *msg)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};

	assert_int_equal(vsn_scrape_nginx_status(s, strlen(s), &f, &err), -EBADMSG);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
	figures_are(&f, -1, -1);
}

static void test_nginx_malformed(void **state)
{
	expect_nginx("<html><body>Welcome to nginx!</body></html>\n", "line 1");
	expect_nginx("Active connections: 291\n", "line 2");
	expect_nginx("Active connections: 291\nserver accepts handled requests\n 1 2\n", "line 3");
	expect_nginx("Active connections: 291\nserver accepts handled requests\n 1 2 3\n"
		     "Reading: 6 Writing: 179\n",
		     "line 4");
	expect_nginx("Active connections: 291\nserver accepts handled requests\n 1 2 3\n"
		     "Reading: 6 Writing: 179 Waiting: 106\n<html>\n",
		     "line 5: more than stub_status");
	expect_nginx("Active connections: 99999999999999999999\n", "line 1");
	expect_nginx("Active connections: -3\n", "line 1");
}

static void test_nginx_crlf(void **state)
{
	static const char s[] = "Active connections: 2\r\nserver accepts handled requests\r\n"
				" 5 5 9\r\nReading: 0 Writing: 1 Waiting: 1";
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};

	assert_int_equal(vsn_scrape_nginx_status(s, strlen(s), &f, &err), 0);
	figures_are(&f, 2, 0);
}

static int prom_get(const char *sel_text, const char *text, struct vsn_load_figures *f,
		    struct vsn_probe_err *err)
{
	struct vsn_prom_sel sel;

	assert_int_equal(vsn_prom_sel_parse(sel_text, &sel, err), 0);
	return vsn_scrape_prometheus(text, strlen(text), &sel, f, err);
}

static void test_prometheus(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};
	double load;

	assert_int_equal(
		prom_get("haproxy_frontend_current_sessions{proxy=\"http-in\"}", prom, &f, &err),
		0);
	figures_are(&f, 42, 0);
	assert_int_equal(vsn_load_compute(&f, 100, &load, &err), 0);
	assert_true(fabs(load - 0.42) < 1e-9);
	/* One label of two named; a timestamp after the value. */
	assert_int_equal(
		prom_get("haproxy_backend_current_sessions{proxy=\"app\"}", prom, &f, &err), 0);
	figures_are(&f, 37, 0);
	/* Escapes in the sample and in the selector; a trailing comma. */
	assert_int_equal(prom_get("haproxy_backend_current_sessions{proxy=\"a \\\"quoted\\\" "
				  "name\\\\x\"}",
				  prom, &f, &err),
			 0);
	figures_are(&f, 3, 0);
	assert_int_equal(prom_get("nginx_connections_active", prom, &f, &err), 0);
	figures_are(&f, 291, 0);
	assert_int_equal(prom_get("process_cpu_seconds_total", prom, &f, &err), 0);
	figures_are(&f, 153, 0);
	/* An exemplar after the value. */
	assert_int_equal(prom_get("http_requests_total{code=\"200\"}", prom, &f, &err), 0);
	figures_are(&f, 1027, 0);
	/* +Inf clamps to 1, a negative value to 0. */
	assert_int_equal(prom_get("vsn_weird{kind=\"inf\"}", prom, &f, &err), 0);
	assert_int_equal(vsn_load_compute(&f, 100, &load, &err), 0);
	assert_true(load == 1);
	assert_int_equal(prom_get("vsn_weird{kind=\"neg\"}", prom, &f, &err), 0);
	assert_int_equal(vsn_load_compute(&f, 100, &load, &err), 0);
	assert_true(load == 0);
}

static void test_prometheus_failures(void **state)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};

	assert_int_equal(prom_get("haproxy_frontend_current_sessions", prom, &f, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "2 samples"));
	assert_int_equal(
		prom_get("haproxy_frontend_current_sessions{proxy=\"web\"}", prom, &f, &err),
		-ENOENT);
	assert_int_equal(prom_get("haproxy_frontend", prom, &f, &err), -ENOENT);
	assert_int_equal(prom_get("vsn_weird{kind=\"nan\"}", prom, &f, &err), -ERANGE);
	figures_are(&f, -1, -1);
}

static void expect_prom(const char *text, const char *msg)
{
	struct vsn_load_figures f = {-1, -1};
	struct vsn_probe_err err = {""};

	assert_int_equal(prom_get("m", text, &f, &err), -EBADMSG);
	if (!strstr(err.msg, msg))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, msg);
}

static void test_prometheus_malformed(void **state)
{
	expect_prom("m 1\n9lives 2\n", "line 2: not a metric name");
	expect_prom("m\n", "line 1");
	expect_prom("m{a=\"b\" 1\n", "line 1: malformed labels");
	expect_prom("m{a=\"b\n\"} 1\n", "line 1: malformed labels");
	expect_prom("m{a=b} 1\n", "line 1: malformed labels");
	expect_prom("m{=\"b\"} 1\n", "line 1: malformed labels");
	expect_prom("# ok\nm 1 2 3\n", "line 2: malformed value");
	expect_prom("m one\n", "line 1: malformed value");
	expect_prom("m 0x1p3\n", "line 1: malformed value");
	expect_prom("m{a=\"\\", "line 1: malformed labels");
	expect_prom("m1\n", "no blank");
	expect_prom(
		"m{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\",j="
		"\"10\","
		"k=\"1\",l=\"2\",m=\"3\",n=\"4\",o=\"5\",p=\"6\",q=\"7\",r=\"8\",s=\"9\",t=\"1\","
		"u=\"1\",v=\"2\",w=\"3\",x=\"4\",y=\"5\",z=\"6\",a1=\"7\",b1=\"8\",c1=\"9\","
		"d1=\"1\",e1=\"1\",f1=\"2\",g1=\"3\",h1=\"4\",i1=\"5\",j1=\"6\",k1=\"7\","
		"l1=\"8\",m1=\"9\",n1=\"1\",o1=\"1\",p1=\"2\",q1=\"3\",r1=\"4\",s1=\"5\","
		"t1=\"6\",u1=\"7\",v1=\"8\",w1=\"9\",x1=\"1\",y1=\"1\",z1=\"2\",a2=\"3\","
		"b2=\"4\",c2=\"5\",d2=\"6\",e2=\"7\",f2=\"8\",g2=\"9\",h2=\"1\",i2=\"1\","
		"j2=\"2\",k2=\"3\",l2=\"4\",m2=\"5\"} 1\n",
		"over 64 labels");
}

static void test_prom_selector(void **state)
{
	struct vsn_probe_err err = {""};
	struct vsn_prom_sel sel;

	assert_int_equal(vsn_prom_sel_parse("a:b_c{x=\"1\", y=\"q\\\"\\n\"}", &sel, &err), 0);
	assert_string_equal(sel.name, "a:b_c");
	assert_int_equal(sel.n_labels, 2);
	assert_string_equal(sel.labels[0].name, "x");
	assert_string_equal(sel.labels[0].value, "1");
	assert_string_equal(sel.labels[1].name, "y");
	assert_string_equal(sel.labels[1].value, "q\"\n");
	assert_int_equal(vsn_prom_sel_parse("", &sel, &err), -EINVAL);
	assert_int_equal(vsn_prom_sel_parse("1abc", &sel, &err), -EINVAL);
	assert_int_equal(vsn_prom_sel_parse("m{a=\"1\"} 3", &sel, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "text after"));
	assert_int_equal(vsn_prom_sel_parse("m{a=\"1\",a=\"2\"}", &sel, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "label a twice"));
	assert_int_equal(vsn_prom_sel_parse("m{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\","
					    "g=\"1\",h=\"1\",i=\"1\"}",
					    &sel, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "over 8 labels"));
	assert_int_equal(vsn_prom_sel_parse("m{a=\"1\"", &sel, &err), -EINVAL);
}

static void test_load_compute(void **state)
{
	struct vsn_load_figures f = {5, 0};
	struct vsn_probe_err err = {""};
	double load = -1;

	assert_int_equal(vsn_load_compute(&f, 20, &load, &err), 0);
	assert_true(load == 0.25);
	f.limit = 10;
	assert_int_equal(vsn_load_compute(&f, 20, &load, &err), 0);
	assert_true(load == 0.5);
	f.current = 11;
	assert_int_equal(vsn_load_compute(&f, 20, &load, &err), 0);
	assert_true(load == 1);
	f.current = NAN;
	load = -1;
	assert_int_equal(vsn_load_compute(&f, 20, &load, &err), -ERANGE);
	assert_true(load == -1);
	f.current = 1;
	f.limit = 0;
	assert_int_equal(vsn_load_compute(&f, INFINITY, &load, &err), -EINVAL);
}

static void test_http_head(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 12\r\n\r\nbody";
	static const char bare[] = "HTTP/1.0 503\nContent-length:  7 \n\n";
	struct http_head h;
	int st = 0;

	assert_int_equal(http_status_line(ok, 5, &st), 0);
	assert_int_equal(http_status_line(ok, strlen(ok), &st), 1);
	assert_int_equal(st, 200);
	assert_int_equal(http_head_parse(ok, strlen(ok), &h), 1);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.content_length, 12);
	assert_int_equal(h.len, strlen(ok) - 4);
	assert_false(h.transfer_encoding);
	assert_int_equal(http_head_parse(ok, strlen(ok) - 6, &h), 0);
	assert_int_equal(http_head_parse(bare, strlen(bare), &h), 1);
	assert_int_equal(h.status, 503);
	assert_int_equal(h.content_length, 7);
	/* Refused as soon as the first bytes cannot begin a response. */
	assert_int_equal(http_status_line("SSH-2.0", 7, &st), -EBADMSG);
	assert_int_equal(http_status_line("HTTP/1.1 20 OK\r\n", 16, &st), -EBADMSG);
	assert_int_equal(http_status_line("HTTP/1.1 2000 OK\r\n", 18, &st), -EBADMSG);
	assert_int_equal(http_status_line("HTTP/1.1 099\r\n", 14, &st), -EBADMSG);
#define HEAD(s) http_head_parse(s, strlen(s), &h)
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
			 -EBADMSG);
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"), -EBADMSG);
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), -EBADMSG);
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n"), -EBADMSG);
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), 1);
	assert_true(h.transfer_encoding);
	assert_true(h.chunked);
	assert_int_equal(h.content_length, -1);
	/* Any other coding, or chunked among others, is not chunked alone. */
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 1);
	assert_true(h.transfer_encoding);
	assert_false(h.chunked);
	assert_int_equal(HEAD("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
			      "Transfer-Encoding: chunked\r\n\r\n"),
			 1);
	assert_false(h.chunked);
#undef HEAD
}

/* http_chunked on a copy of text: its result, and the data in out. */
static int chunked(const char *text, size_t len, char *out, size_t *ret_len)
{
	char buf[256];

	assert_true(len <= sizeof(buf));
	memcpy(buf, text, len);
	*ret_len = 0;
	int r = http_chunked(buf, len, ret_len);

	if (r == 1)
		memcpy(out, buf, *ret_len);
	else
		assert_memory_equal(buf, text, len); /* untouched until complete */
	return r;
}

static void test_http_chunked(void **state)
{
	static const char body[] = "5;name=value\r\nhello\r\n7\r\n, world\r\n"
				   "0\r\nTrailer: x\r\n\r\n";
	static const char lf[] = "3\nabc\nA\n0123456789\n0\n\n";
	char out[256];
	size_t n;

	assert_int_equal(chunked(body, strlen(body), out, &n), 1);
	assert_int_equal(n, 12);
	assert_memory_equal(out, "hello, world", 12);
	/* Every shorter prefix waits for more. */
	for (size_t k = 0; k < strlen(body); k++)
		if (chunked(body, k, out, &n) != 0)
			fail_msg("prefix of %zu bytes: not 'more needed'", k);
	assert_int_equal(chunked(lf, strlen(lf), out, &n), 1);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "abc0123456789", 13);
	assert_int_equal(chunked("0\r\n\r\n", 5, out, &n), 1);
	assert_int_equal(n, 0);
	static const char *const bad[] = {
		"x\r\n\r\n",		      /* no size */
		"-1\r\n",		      /* nor this */
		"3 x\r\nabc\r\n0\r\n\r\n",    /* junk after the size */
		"3\r\nabcd\r\n0\r\n\r\n",     /* more data than the size */
		"3\r\nab\rc\r\n",	      /* no CRLF after the data */
		"1000000000000000\r\n",	      /* 16 hex digits */
		"0\r\nno colon\r\n\r\n",      /* a trailer line without a name */
		"0\r\n folded: x\r\n\r\n",    /* nor this */
		"3;a\rb\r\nabc\r\n0\r\n\r\n", /* a CR in an extension */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (chunked(bad[i], strlen(bad[i]), out, &n) != -EBADMSG)
			fail_msg("'%s' not refused", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_haproxy_rows),
		cmocka_unit_test(test_haproxy_no_slim),
		cmocka_unit_test(test_haproxy_malformed),
		cmocka_unit_test(test_haproxy_variants),
		cmocka_unit_test(test_nginx),
		cmocka_unit_test(test_nginx_malformed),
		cmocka_unit_test(test_nginx_crlf),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_prometheus_failures),
		cmocka_unit_test(test_prometheus_malformed),
		cmocka_unit_test(test_prom_selector),
		cmocka_unit_test(test_load_compute),
		cmocka_unit_test(test_http_head),
		cmocka_unit_test(test_http_chunked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* detect_virt() against the fixture trees in tests/fixtures/detect/<name>/.
 * Each tree has a file `cpuid`: one line, `none` (no hypervisor bit) or the
 * leaf 0x40000000 signature (ebx, ecx, edx), NUL-padded to 12 bytes when
 * shorter (`KVMKVMKVM`). AMPHI_FIXTURES names the fixtures directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "detect.h"
#include "testutil.h"

static const struct fixture {
	const char *name;
	const char *id;
	enum world world;
} fixtures[] = {
	/* virtual machines */
	{ "qemu-tcg", "qemu", WORLD_VM },
	{ "kvm", "kvm", WORLD_VM },                  /* CPUID beats DMI "QEMU" */
	{ "kvm-dmi", "kvm", WORLD_VM },              /* product_name before sys_vendor */
	{ "qemu-hv", "qemu", WORLD_VM },             /* Hyper-V CPUID waits for DMI */
	{ "virtualbox", "oracle", WORLD_VM },        /* DMI oracle beats CPUID KVM */
	{ "vmware", "vmware", WORLD_VM },
	{ "hyperv", "microsoft", WORLD_VM },
	{ "vm-other", "vm-other", WORLD_VM },
	{ "xen-domu", "xen", WORLD_VM },
	{ "xen-dom0", "none", WORLD_NONE },
	{ "uml", "uml", WORLD_VM },
	{ "devicetree", "kvm", WORLD_VM },
	{ "none", "none", WORLD_NONE },              /* cgroup v2 root, not a namespace */
	{ "cgroup-v1-host", "none", WORLD_NONE },
	{ "container-empty", "kvm", WORLD_VM },      /* container= says no container */
	/* containers */
	{ "openvz", "openvz", WORLD_CONTAINER },
	{ "wsl", "wsl", WORLD_CONTAINER },
	{ "proot", "proot", WORLD_CONTAINER },
	{ "host-manager", "podman", WORLD_CONTAINER },
	{ "unknown-manager", "container-other", WORLD_CONTAINER },
	{ "systemd-nspawn", "systemd-nspawn", WORLD_CONTAINER },
	{ "lxc", "lxc", WORLD_CONTAINER },
	{ "lxc-in-kvm", "lxc", WORLD_CONTAINER },
	{ "oci", "docker", WORLD_CONTAINER },
	{ "oci-bare", "container-other", WORLD_CONTAINER },
	{ "podman", "podman", WORLD_CONTAINER },     /* before /.dockerenv */
	{ "docker", "docker", WORLD_CONTAINER },
	{ "cgroupns", "container-other", WORLD_CONTAINER },
	{ "cgroupns-v1", "container-other", WORLD_CONTAINER },
};

static char fixture_root[PATH_MAX];


/* Plays the CPU described by <fixture_root>/cpuid. */
static int fake_cpuid(uint32_t leaf, uint32_t regs[4])
{
	char path[PATH_MAX + 16], line[64] = "";
	char sig[12] = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/cpuid", fixture_root);
	f = fopen(path, "re");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	memset(regs, 0, 4 * sizeof(regs[0]));
	if (leaf == 1) {
		if (strcmp(line, "none") != 0)
			regs[2] = 0x80000000U;
		return 0;
	}
	if (leaf != 0x40000000U || strcmp(line, "none") == 0)
		return -1;
	assert_true(strlen(line) <= sizeof(sig));
	memcpy(sig, line, strlen(line));
	memcpy(&regs[1], sig, 4);
	memcpy(&regs[2], sig + 4, 4);
	memcpy(&regs[3], sig + 8, 4);
	return 0;
}

static void test_fixture(void **state)
{
	const struct fixture *fx = *state;
	struct detect_result r;
	int n;

	n = snprintf(fixture_root, sizeof(fixture_root), "%s/detect/%s", fixtures_dir(), fx->name);
	assert_true(n > 0 && (size_t)n < sizeof(fixture_root));
	assert_int_equal(access(fixture_root, F_OK), 0);
	detect_set_cpuid(fake_cpuid);
	r = detect_virt(fixture_root);
	detect_set_cpuid(NULL);
	assert_non_null(r.id);
	assert_string_equal(r.id, fx->id);
	assert_int_equal(r.world, fx->world);
}

/* Every fixture directory has a row above, so none is silently skipped. */
static void test_every_fixture_listed(void **state)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/detect", fixtures_dir());
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t i = 0;

		if (de->d_name[0] == '.')
			continue;
		while (i < sizeof(fixtures) / sizeof(fixtures[0]) &&
		       strcmp(fixtures[i].name, de->d_name) != 0)
			i++;
		if (i == sizeof(fixtures) / sizeof(fixtures[0]))
			fail_msg("fixture %s/%s has no row in the test table", dir, de->d_name);
	}
	closedir(d);
}

/* NULL restores the real CPUID; an empty root hides every file, so the
 * answer comes from the CPU alone and can only be a VM or none. */
static void test_real_cpuid_restored(void **state)
{
	char tmp[] = "/tmp/amphi-detect-XXXXXX";
	struct detect_result r;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	detect_set_cpuid(fake_cpuid);
	detect_set_cpuid(NULL);
	r = detect_virt(tmp);
	rmdir(tmp);
	assert_non_null(r.id);
	if (strcmp(r.id, "none") == 0)
		assert_int_equal(r.world, WORLD_NONE);
	else
		assert_int_equal(r.world, WORLD_VM);
}

int main(void)
{
	enum { N = sizeof(fixtures) / sizeof(fixtures[0]) };
	struct CMUnitTest tests[N + 2];

	for (size_t i = 0; i < N; i++)
		tests[i] = (struct CMUnitTest){
			.name = fixtures[i].name,
			.test_func = test_fixture,
			.initial_state = (void *)&fixtures[i],
		};
	tests[N] = (struct CMUnitTest)cmocka_unit_test(test_every_fixture_listed);
	tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_real_cpuid_restored);
	return _cmocka_run_group_tests("detect", tests, N + 2, NULL, NULL);
}

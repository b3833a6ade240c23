/**
 * The AWS partitions as the SDK endpoint rules know them, for building the regional Roles Anywhere
 * host name. A region is looked up in every partition's explicit list first, then matched against the
 * partitions' region patterns in order; anything else belongs to the `aws` partition.
 */
export interface Partition {
  readonly name: string;
  readonly regionPattern: RegExp;
  readonly dnsSuffix: string;
  readonly dualStackDnsSuffix: string;
  readonly supportsFips: boolean;
  readonly supportsDualStack: boolean;
  readonly regions: readonly string[];
}

/** A partition with FIPS endpoints; dual-stack ones when `dualStackDnsSuffix` is given. */
function partition(name: string, regionPattern: RegExp, dnsSuffix: string, regions: readonly string[], dualStack?: string): Partition {
  const supportsDualStack = dualStack !== undefined;
  return { name, regionPattern, dnsSuffix, dualStackDnsSuffix: dualStack ?? dnsSuffix, supportsFips: true, supportsDualStack, regions };
}

export const PARTITIONS: readonly Partition[] = [
  partition(
    "aws",
    /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/,
    "amazonaws.com",
    [
      "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
      "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "aws-global", "ca-central-1",
      "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
      "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1",
      "us-east-2", "us-west-1", "us-west-2",
    ],
    "api.aws",
  ),
  partition(
    "aws-cn", /^cn-\w+-\d+$/, "amazonaws.com.cn", ["aws-cn-global", "cn-north-1", "cn-northwest-1"],
    "api.amazonwebservices.com.cn",
  ),
  partition("aws-us-gov", /^us-gov-\w+-\d+$/, "amazonaws.com", ["aws-us-gov-global", "us-gov-east-1", "us-gov-west-1"], "api.aws"),
  partition("aws-iso", /^us-iso-\w+-\d+$/, "c2s.ic.gov", ["aws-iso-global", "us-iso-east-1", "us-iso-west-1"]),
  partition("aws-iso-b", /^us-isob-\w+-\d+$/, "sc2s.sgov.gov", ["aws-iso-b-global", "us-isob-east-1"]),
  partition("aws-iso-e", /^eu-isoe-\w+-\d+$/, "cloud.adc-e.uk", ["eu-isoe-west-1"]),
  partition("aws-iso-f", /^us-isof-\w+-\d+$/, "csp.hci.ic.gov", []),
];

/** The partition a region belongs to (the `aws` partition for regions nobody claims). */
export function partitionOf(region: string, partitions: readonly Partition[] = PARTITIONS): Partition {
  return (
    partitions.find((p) => p.regions.includes(region)) ??
    partitions.find((p) => p.regionPattern.test(region)) ??
    PARTITIONS[0]!
  );
}

/** True for a region of a partition's list, or one its pattern admits (regions opened after this release). */
export function isKnownRegion(region: string): boolean {
  return PARTITIONS.some((p) => p.regions.includes(region) || p.regionPattern.test(region));
}

/** Every region name of every partition (the global pseudo-regions left out), for suggestions. */
export function knownRegionNames(): string[] {
  return PARTITIONS.flatMap((p) => p.regions.filter((r) => !r.endsWith("-global")));
}

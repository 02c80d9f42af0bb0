// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {EntryTree} from "./utils/EntryTree.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @notice Drives RevShare with valid reports, stale reports, rotations, funds, claims and withdrawals, keeping the
/// ghost counts the invariants compare against. A report's entries follow from its entry seed, so the handler keeps
/// the seed of each report it submitted, to rebuild its tree and claim from its round even after later reports.
contract RevShareHandler is RevShareFixture {
    uint256 internal constant POOL_COUNT = 2;
    uint256 internal constant PAYEE_COUNT = 3;

    uint256[] internal currentKeys;
    uint256 public rotations;
    uint256 public totalFunded;
    uint256 public totalWithdrawn;
    uint256 public totalCredited;
    uint256 public staleAccepted;
    uint256 public claimsOffTheirShare;
    mapping(uint256 poolIndex => uint256 count) public accepted;
    mapping(bytes32 digest => uint256 seed) public entrySeedOf;
    mapping(bytes32 digest => uint256 amount) public fundedTo;
    bytes32[] public fundedRounds;

    constructor(RevShare target, uint256[] memory keys) {
        revShare = target;
        currentKeys = keys;
    }

    function poolId(uint256 index) public pure returns (bytes32) {
        return keccak256(abi.encode("invariant pool", index % POOL_COUNT));
    }

    function payee(uint256 index) public pure returns (address) {
        return address(uint160(0xBEE0 + index % PAYEE_COUNT));
    }

    function currentSignatures(bytes32 digest) internal view returns (bytes memory) {
        (, uint8 threshold,) = revShare.signerSet();
        return signSorted(firstKeys(currentKeys, threshold), digest);
    }

    function fundedRoundCount() external view returns (uint256) {
        return fundedRounds.length;
    }

    /// @dev Zero to four entries, about one in four without a payee; the same wallet everywhere on purpose, so
    /// that entries differ in their leaves only by weight, payee and position.
    function entriesOf(uint256 entrySeed) public pure returns (RevShare.Entry[] memory entries) {
        uint256 count = entrySeed % 5;
        entries = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(entrySeed, i)));
            address to = raw % 4 == 0 ? address(0) : payee(raw >> 8);
            entries[i] = RevShare.Entry("https://ilp.example.com/inv", uint96(bound(raw >> 16, 1, 1000)), to);
        }
    }

    function submitPoolReport(uint256 poolSeed, uint256 entrySeed) external {
        uint256 index = poolSeed % POOL_COUNT;
        bytes32 pool = poolId(index);
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, pool);
        RevShare.PoolReport memory report = poolReport(COMMUNITY, pool, version + 1, last, entriesOf(entrySeed));
        bytes32 digest = revShare.submitPoolReport(report, currentSignatures(digestOf(report)));
        entrySeedOf[digest] = entrySeed;
        ++accepted[index];
    }

    function submitStaleReport(uint256 poolSeed, bool replay) external {
        bytes32 pool = poolId(poolSeed);
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, pool);
        uint64 seq = replay ? version : version + 2;
        RevShare.PoolReport memory report = poolReport(COMMUNITY, pool, seq, last, sampleEntries());
        try revShare.submitPoolReport(report, currentSignatures(digestOf(report))) {
            ++staleAccepted;
        } catch {}
    }

    function rotate(uint256 from, uint256 size, uint256 threshold) external {
        size = bound(size, 1, 6);
        threshold = bound(threshold, 1, size);
        uint256[] memory next = keyRange(bound(from, 0, 20), size);
        (uint64 seq, bytes32 last) = revShare.signerHead();
        RevShare.SignerReport memory report = signerReport(seq + 1, last, addressesOf(next), uint8(threshold));
        revShare.submitSignerReport(report, currentSignatures(digestOf(report)));
        currentKeys = next;
        ++rotations;
    }

    function fund(uint256 poolSeed, uint256 amount) external {
        bytes32 pool = poolId(poolSeed);
        (,, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, pool);
        if (payeeWeight == 0) return;
        amount = bound(amount, 1, 10 ether);
        vm.deal(address(this), amount);
        (, bytes32 pin) = revShare.poolHead(COMMUNITY, pool);
        revShare.fund{value: amount}(COMMUNITY, pool, pin);
        if (fundedTo[pin] == 0) fundedRounds.push(pin);
        fundedTo[pin] += amount;
        totalFunded += amount;
    }

    /// @dev Claims entry `entrySeed` of a funded round if it has a payee and something left to claim, and counts a
    /// claim that credits anything but funded * weight / payeeWeight less what the entry was credited before.
    function claim(uint256 roundSeed, uint256 entrySeed) external {
        if (fundedRounds.length == 0) return;
        bytes32 digest = fundedRounds[roundSeed % fundedRounds.length];
        RevShare.Entry[] memory entries = entriesOf(entrySeedOf[digest]);
        uint256 index = entrySeed % entries.length;
        if (entries[index].payee == address(0)) return;
        RevShare.EntryLeaf memory leaf = EntryTree.leafOf(entries, index);
        uint256 before = revShare.claimed(digest, EntryTree.leafHash(leaf));
        (, uint256 payeeWeight, uint256 funded) = revShare.round(digest);
        uint256 earned = funded * leaf.weight / payeeWeight;
        if (earned == before) return;
        uint256 amount = revShare.claim(digest, leaf, EntryTree.proof(entries, index));
        if (amount != earned - before) ++claimsOffTheirShare;
        totalCredited += amount;
    }

    function withdraw(uint256 payeeSeed) external {
        address who = payee(payeeSeed);
        if (revShare.balanceOf(who) == 0) return;
        vm.prank(who);
        totalWithdrawn += revShare.withdraw();
    }
}

/// @notice Invariants of RevShare under any sequence of the handler's actions.
contract RevShareInvariantTest is RevShareFixture {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    RevShareHandler internal handler;

    function setUp() public {
        vm.warp(START);
        uint256[] memory keys = keyRange(0, 3);
        revShare = deploy(keys, 2);
        handler = new RevShareHandler(revShare, keys);
    }

    /// @dev Read by forge: fuzz only the handler, never RevShare directly.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev Read by forge: the handler's actions (not its view helpers).
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = RevShareHandler.submitPoolReport.selector;
        selectors[1] = RevShareHandler.submitStaleReport.selector;
        selectors[2] = RevShareHandler.rotate.selector;
        selectors[3] = RevShareHandler.fund.selector;
        selectors[4] = RevShareHandler.claim.selector;
        selectors[5] = RevShareHandler.withdraw.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    function invariant_poolVersionEqualsAcceptedReports() public view {
        for (uint256 i; i < 2; ++i) {
            (uint64 version,) = revShare.poolHead(COMMUNITY, handler.poolId(i));
            assertEq(version, handler.accepted(i), "pool version vs accepted reports");
        }
    }

    function invariant_staleReportsAreNeverAccepted() public view {
        assertEq(handler.staleAccepted(), 0, "stale reports accepted");
    }

    function invariant_contractHoldsWhatWasFundedLessWhatWasWithdrawn() public view {
        assertEq(address(revShare).balance, handler.totalFunded() - handler.totalWithdrawn(), "contract ETH vs funded");
    }

    function invariant_balancesAreWhatWasCreditedLessWhatWasWithdrawn() public view {
        uint256 balances;
        for (uint256 i; i < 3; ++i) {
            balances += revShare.balanceOf(handler.payee(i));
        }
        assertEq(balances + handler.totalWithdrawn(), handler.totalCredited(), "balances + withdrawn vs credited");
        assertEq(handler.claimsOffTheirShare(), 0, "claims that credited another amount than the entry's share");
    }

    function invariant_noRoundCreditsMoreThanWasFundedToIt() public view {
        for (uint256 r; r < handler.fundedRoundCount(); ++r) {
            bytes32 digest = handler.fundedRounds(r);
            RevShare.Entry[] memory entries = handler.entriesOf(handler.entrySeedOf(digest));
            (bytes32 root, uint256 payeeWeight, uint256 funded) = revShare.round(digest);
            assertEq(funded, handler.fundedTo(digest), "round funded vs funds pinned to it");
            assertEq(root, EntryTree.root(entries), "round root: its report's tree");
            uint256 expectedPayeeWeight;
            uint256 credited;
            for (uint256 i; i < entries.length; ++i) {
                if (entries[i].payee == address(0)) continue;
                expectedPayeeWeight += entries[i].weight;
                credited += revShare.claimed(digest, EntryTree.leafHash(EntryTree.leafOf(entries, i)));
            }
            assertEq(payeeWeight, expectedPayeeWeight, "round payee weight");
            assertLe(credited, funded, "credited from the round");
        }
    }

    function invariant_signerSetIsAlwaysValid() public view {
        (address[] memory signers, uint8 threshold, uint64 epoch) = revShare.signerSet();
        assertTrue(signers.length >= 1 && signers.length <= 32, "signer count within 1..32");
        assertTrue(threshold >= 1 && threshold <= signers.length, "threshold within 1..signer count");
        assertEq(epoch, 1 + handler.rotations(), "epoch vs rotations");
    }
}
